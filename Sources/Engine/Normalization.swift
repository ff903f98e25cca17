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

/// How minibatch-stddev groups are drawn from a batch of N = groups x groupSize samples.
public enum StddevGrouping: Sendable {
    /// Runs of consecutive samples: group g is samples g·groupSize ..< (g+1)·groupSize. Every group stays
    /// inside any micro-batch that is a multiple of the group size, which is what makes results
    /// independent of how a batch is split across ranks.
    case consecutive
    /// Every `groups`-th sample: group m is samples m, m + groups, m + 2·groups, ... (the official code's
    /// and pro_gan_pytorch's `reshape(x, [groupSize, -1, ...])`).
    case strided
}

/// Minibatch standard deviation (paper section 3): for each group of `groupSize` samples, the standard
/// deviation of every feature over the group, averaged to one scalar, appended as an extra channel.
public func minibatchStddev(_ x: Tensor, groupSize: Int, grouping: StddevGrouping = .consecutive,
                            epsilon: Float = 1e-8) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(groupSize > 0 && n % groupSize == 0, "minibatch stddev: batch \(n) is not divisible by group size \(groupSize)")
    let groups = n / groupSize, features = c * h * w
    // Both groupings are a [outer, groupSize, inner] view with the group members on the middle axis;
    // either way the per-feature statistics come out group-major, [groups, features].
    let (outer, inner) = grouping == .consecutive ? (groups, 1) : (1, groups)
    let row = inner * features
    let grouped = reshape(x, [outer, groupSize, row])
    let groupMean = scale(sumAxis(grouped, outer: outer, axis: groupSize, inner: row, resultShape: [outer, 1, row]),
                          1 / Float(groupSize))
    let centered = sub(grouped, broadcastAxis(groupMean, outer: outer, axis: groupSize, inner: row,
                                             resultShape: [outer, groupSize, row]))
    let variance = scale(sumAxis(square(centered), outer: outer, axis: groupSize, inner: row,
                                 resultShape: [outer, 1, row]), 1 / Float(groupSize))
    let stddev = sqrt(addScalar(variance, epsilon))
    let perGroup = scale(sumAxis(stddev, outer: groups, axis: features, inner: 1, resultShape: [groups]), 1 / Float(features))
    let perSample = broadcastAxis(perGroup, outer: outer, axis: groupSize, inner: inner, resultShape: [n])
    let featureMap = broadcastAxis(perSample, outer: n, axis: h * w, inner: 1, resultShape: [n, 1, h, w])
    return concatChannels([x, featureMap])
}
