import Foundation

// Row-wise ops on class logits [N, K], for the auxiliary classifier of a conditional D (AC-GAN). Both
// forwards subtract the row's maximum before exponentiating, so large logits do not overflow; both
// pullbacks are recorded ops, so the losses built from them differentiate twice like every other op.

/// Applies `body` to each row of an [N, K] tensor: (row index, pointer to the row).
private func forEachRow(_ x: Tensor, _ name: String, _ body: (Int, UnsafePointer<Float>) -> Void) {
    precondition(x.rank == 2, "\(name) needs [N, K] logits, got \(x.shape)")
    let width = x.shape[1]
    parallelForEach(x.shape[0], itemSize: width) { row in body(row, x.pointer + row * width) }
}

/// The row's maximum and the sum of exp(value - maximum) over the row.
private func shiftedExponentialSum(_ row: UnsafePointer<Float>, width: Int) -> (maximum: Float, sum: Float) {
    var maximum = -Float.infinity
    for k in 0..<width { maximum = max(maximum, row[k]) }
    var sum: Float = 0
    for k in 0..<width { sum += Foundation.exp(row[k] - maximum) }
    return (maximum, sum)
}

/// softmax of each row of [N, K].
public func softmax(_ x: Tensor) -> Tensor {
    let width = x.shape.last ?? 0
    let out = Tensor(uninitialized: x.shape)
    forEachRow(x, "softmax") { row, values in
        let (maximum, sum) = shiftedExponentialSum(values, width: width)
        let target = out.pointer + row * width
        for k in 0..<width { target[k] = Foundation.exp(values[k] - maximum) / sum }
    }
    // d softmax = s ⊙ (g − ⟨g, s⟩) per row.
    return makeResult(out, inputs: [x]) { g, s in
        [mul(s, sub(g, broadcastPerSample(sumPerSample(mul(g, s)), to: s.shape)))]
    }
}

/// log Σ_k exp(x[n, k]) of each row of [N, K]: [N].
public func logSumExp(_ x: Tensor) -> Tensor {
    let width = x.shape.last ?? 0
    let out = Tensor(uninitialized: [x.shape[0]])
    forEachRow(x, "logSumExp") { row, values in
        let (maximum, sum) = shiftedExponentialSum(values, width: width)
        out.pointer[row] = maximum + Foundation.log(sum)
    }
    return makeResult(out, inputs: [x]) { g, _ in [mul(broadcastPerSample(g, to: x.shape), softmax(x))] }
}

/// Cross-entropy of softmax(logits) against one-hot `targets` (both [N, K]), per row: [N]. The
/// official ProGAN's `softmax_cross_entropy_with_logits` label penalty.
public func softmaxCrossEntropy(logits: Tensor, targets: Tensor) -> Tensor {
    precondition(logits.shape == targets.shape, "softmaxCrossEntropy: \(logits.shape) against \(targets.shape)")
    return sub(logSumExp(logits), sumPerSample(mul(logits, targets)))
}
