// The two normalizations of ProGAN, written as compositions of recorded primitives so that they are
// differentiable twice without rules of their own.

/// Pixelwise feature normalization (paper section 4.2): each pixel's feature vector divided by its
/// root mean square over channels, `x / sqrt(mean_c(x^2) + epsilon)`. Accepts [N, C, H, W] or [N, C].
public func pixelNorm(_ x: Tensor, epsilon: Float = 1e-8) -> Tensor {
    guard x.rank == 4 else { return reshape(pixelNorm(reshape(x, [x.shape[0], x.shape[1], 1, 1]), epsilon: epsilon), x.shape) }
    let channels = x.shape[1]
    let meanSquare = scale(sumChannels(square(x)), 1 / Float(channels))
    return div(x, broadcastChannels(sqrt(addScalar(meanSquare, epsilon)), channels: channels))
}

/// Minibatch standard deviation (paper section 3): for each group of `groupSize` samples, the standard
/// deviation of every feature over the group, averaged to one scalar, appended as an extra channel.
///
/// Groups are runs of consecutive samples (as in pro_gan_pytorch), not the official code's strided
/// groups: the minibatch is shuffled either way, and consecutive groups keep every group inside one
/// micro-batch, which is what makes results independent of how a batch is split across ranks.
public func minibatchStddev(_ x: Tensor, groupSize: Int, epsilon: Float = 1e-8) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(groupSize > 0 && n % groupSize == 0, "minibatch stddev: batch \(n) is not divisible by group size \(groupSize)")
    let groups = n / groupSize, features = c * h * w
    let grouped = reshape(x, [groups, groupSize, features])
    let groupMean = scale(sumAxis(grouped, outer: groups, axis: groupSize, inner: features, resultShape: [groups, 1, features]),
                          1 / Float(groupSize))
    let centered = sub(grouped, broadcastAxis(groupMean, outer: groups, axis: groupSize, inner: features,
                                             resultShape: [groups, groupSize, features]))
    let variance = scale(sumAxis(square(centered), outer: groups, axis: groupSize, inner: features,
                                 resultShape: [groups, 1, features]), 1 / Float(groupSize))
    let stddev = sqrt(addScalar(variance, epsilon))
    let perGroup = scale(sumAxis(stddev, outer: groups, axis: features, inner: 1, resultShape: [groups]), 1 / Float(features))
    let featureMap = broadcastAxis(perGroup, outer: groups, axis: groupSize * h * w, inner: 1, resultShape: [n, 1, h, w])
    return concatChannels([x, featureMap])
}
