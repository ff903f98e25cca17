import Foundation

// The two normalizations of ProGAN. Minibatch stddev is a composition of recorded primitives, so it is
// differentiable twice without a rule of its own; pixel norm, which G applies after every conv, has a
// single-pass kernel for its value and its gradient, and falls back to primitives only where a second
// derivative is wanted.

/// Pixelwise feature normalization (paper section 4.2): each pixel's feature vector divided by its
/// root mean square over channels, `x / sqrt(mean_c(x^2) + epsilon)`. Accepts [N, C, H, W] or [N, C].
public func pixelNorm(_ x: Tensor, epsilon: Float = 1e-8) -> Tensor {
    guard x.rank == 4 else {
        return reshape(pixelNorm(reshape(x, [x.shape[0], x.shape[1], 1, 1]), epsilon: epsilon), x.shape)
    }
    let (n, c, h, w) = x.nchw, pixels = h * w
    let out = Tensor(uninitialized: x.shape)
    let allNorms = Workspace.buffer(.pixelNorms, n * pixels)
    forEachPixelBlock(samples: n, channels: c, pixels: pixels) { s, block in
        let source = x.pointer + s * c * pixels, target = out.pointer + s * c * pixels, norms = allNorms + s * pixels
        rootMeanSquares(source, channels: c, pixels: pixels, block, epsilon: epsilon, into: norms)
        for ch in 0..<c {
            let plane = source + ch * pixels, result = target + ch * pixels
            for p in block { result[p] = plane[p] / norms[p] }
        }
    }
    return makeResult(out, inputs: [x]) { g, y in [pixelNormGradient(g, input: x, output: y, epsilon: epsilon)] }
}

/// Runs `body(sample, pixels)` over every sample cut into fixed blocks of pixels, on the engine's
/// threads: every pixel's normalization is computed on its own, from all channels.
private func forEachPixelBlock(samples: Int, channels: Int, pixels: Int, _ body: (Int, Range<Int>) -> Void) {
    let grain = max(1, elementwiseGrain / channels), blocks = (pixels + grain - 1) / grain
    parallelForEach(samples * blocks, itemSize: channels * min(grain, pixels)) { item in
        let (s, block) = item.quotientAndRemainder(dividingBy: blocks)
        body(s, (block * grain)..<min(pixels, (block + 1) * grain))
    }
}

/// sqrt(mean_c(x²) + ε) for pixels `block` of one sample: the float operations of the composition of
/// primitives (sum over channels in order, times 1/C, plus ε, square root), so the values match it
/// bit for bit.
private func rootMeanSquares(
    _ sample: UnsafePointer<Float>, channels: Int, pixels: Int, _ block: Range<Int>, epsilon: Float,
    into norms: UnsafeMutablePointer<Float>
) {
    for p in block { norms[p] = 0 }
    for ch in 0..<channels {
        let plane = sample + ch * pixels
        for p in block { norms[p] += plane[p] * plane[p] }
    }
    let inverseCount = 1 / Float(channels)
    for p in block { norms[p] = Foundation.sqrt(norms[p] * inverseCount + epsilon) }
}

/// The gradient of pixel norm: with r = sqrt(mean_c(x²) + ε) and y = x / r, dx = (g − y·mean_c(g·y)) / r.
/// Computed in two passes per sample; when the tape records (a second derivative is wanted) it is
/// built from recorded primitives instead, which differentiate again.
private func pixelNormGradient(_ g: Tensor, input x: Tensor, output y: Tensor, epsilon: Float) -> Tensor {
    let (n, c, h, w) = x.nchw, pixels = h * w
    guard !GradientTape.isRecording else {
        let norms = broadcastChannels(
            sqrt(addScalar(scale(sumChannels(square(x)), 1 / Float(c)), epsilon)), channels: c)
        let normalized = div(x, norms)
        let projection = broadcastChannels(scale(sumChannels(mul(g, normalized)), 1 / Float(c)), channels: c)
        return div(sub(g, mul(normalized, projection)), norms)
    }
    let out = Tensor(uninitialized: x.shape)
    let allNorms = Workspace.buffer(.pixelNorms, n * pixels)
    let allProjections = Workspace.buffer(.pixelNormProjections, n * pixels)
    let inverseCount = 1 / Float(c)
    forEachPixelBlock(samples: n, channels: c, pixels: pixels) { s, block in
        let offset = s * c * pixels, norms = allNorms + s * pixels, projections = allProjections + s * pixels
        let gradient = g.pointer + offset, normalized = y.pointer + offset, target = out.pointer + offset
        rootMeanSquares(x.pointer + offset, channels: c, pixels: pixels, block, epsilon: epsilon, into: norms)
        for p in block { projections[p] = 0 }
        for ch in 0..<c {
            let gp = gradient + ch * pixels, yp = normalized + ch * pixels
            for p in block { projections[p] += gp[p] * yp[p] }
        }
        for p in block { projections[p] *= inverseCount }
        for ch in 0..<c {
            let gp = gradient + ch * pixels, yp = normalized + ch * pixels, result = target + ch * pixels
            for p in block { result[p] = (gp[p] - yp[p] * projections[p]) / norms[p] }
        }
    }
    return out
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
public func minibatchStddev(
    _ x: Tensor, groupSize: Int, grouping: StddevGrouping = .consecutive,
    epsilon: Float = 1e-8
) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(
        groupSize > 0 && n % groupSize == 0, "minibatch stddev: batch \(n) is not divisible by group size \(groupSize)")
    let groups = n / groupSize, features = c * h * w
    // Both groupings are a [outer, groupSize, inner] view with the group members on the middle axis;
    // either way the per-feature statistics come out group-major, [groups, features].
    let (outer, inner) = grouping == .consecutive ? (groups, 1) : (1, groups)
    let row = inner * features
    let grouped = reshape(x, [outer, groupSize, row])
    let groupMean = scale(
        sumAxis(grouped, outer: outer, axis: groupSize, inner: row, resultShape: [outer, 1, row]),
        1 / Float(groupSize))
    let centered = sub(
        grouped,
        broadcastAxis(
            groupMean, outer: outer, axis: groupSize, inner: row,
            resultShape: [outer, groupSize, row]))
    let variance = scale(
        sumAxis(
            square(centered), outer: outer, axis: groupSize, inner: row,
            resultShape: [outer, 1, row]), 1 / Float(groupSize))
    let stddev = sqrt(addScalar(variance, epsilon))
    let perGroup = scale(
        sumAxis(stddev, outer: groups, axis: features, inner: 1, resultShape: [groups]), 1 / Float(features))
    let perSample = broadcastAxis(perGroup, outer: outer, axis: groupSize, inner: inner, resultShape: [n])
    let featureMap = broadcastAxis(perSample, outer: n, axis: h * w, inner: 1, resultShape: [n, 1, h, w])
    return concatChannels([x, featureMap])
}
