import Engine

/// Sums the gradients of a step's micro-batches on this rank and averages them over all micro-batches
/// of the global minibatch, across ranks. The one place where gradients are combined.
///
/// In deterministic mode each micro-batch's gradient is rounded to fixed point (an integer multiple
/// of 2^-40) and summed as 64-bit integers, locally and through the allreduce. Integer addition is
/// exact, so the sum does not depend on which rank computed which micro-batch, on the order of the
/// additions, or on the reduction algorithm MPI picks: the same global minibatch gives the same bits
/// on any number of ranks. The fast mode sums floats, whose rounding depends on that order.
final class GradientReducer {
    let deterministic: Bool
    private var floatSum = FloatBuffer(count: 0)
    private var fixedSum: [Int64] = []
    /// Gradient values reduced in the current step.
    private(set) var count = 0

    /// 2^40: resolution 9e-13 (float32 keeps ~7 digits of gradients down to 1e-5 this way), and room
    /// for sums up to ±8.4e6 before 64 bits overflow.
    static let fixedPointScale = Double(1 << 40)
    static let largestSum = Double(Int64.max) / fixedPointScale / 2

    init(deterministic: Bool) { self.deterministic = deterministic }

    /// Starts a step that reduces `count` gradient values.
    func begin(count: Int) {
        self.count = count
        if deterministic {
            if fixedSum.count < count { fixedSum = [Int64](repeating: 0, count: count) }
            for i in 0..<count { fixedSum[i] = 0 }
        } else {
            if floatSum.count < count { floatSum = FloatBuffer(count: count) }
            floatSum.pointer.initialize(repeating: 0, count: count)
        }
    }

    /// Adds one micro-batch's gradients.
    func add(_ gradients: UnsafePointer<Float>, network: String) throws {
        guard deterministic else {
            let sum = floatSum.pointer
            for i in 0..<count { sum[i] += gradients[i] }
            return
        }
        for i in 0..<count {
            let value = Double(gradients[i])
            // Also rejects NaN, which fails every comparison.
            guard abs(value) < GradientReducer.largestSum else {
                throw TrainingError(message: "a gradient of \(network) is \(value), outside the deterministic fixed-point range "
                                    + "(±\(Float(GradientReducer.largestSum)))")
            }
            fixedSum[i] &+= Int64((value * GradientReducer.fixedPointScale).rounded())
        }
    }

    /// Writes the mean gradient over `microbatches` micro-batches of all ranks into `output`.
    func reduce(over collective: Collective, microbatches: Int, into output: UnsafeMutablePointer<Float>) throws {
        if deterministic {
            try fixedSum.withUnsafeMutableBufferPointer { try collective.sum(UnsafeMutableBufferPointer(rebasing: $0[0..<count])) }
            let factor = 1 / (GradientReducer.fixedPointScale * Double(microbatches))
            for i in 0..<count { output[i] = Float(Double(fixedSum[i]) * factor) }
        } else {
            try collective.sum(UnsafeMutableBufferPointer(start: floatSum.pointer, count: count))
            let factor = 1 / Float(microbatches)
            for i in 0..<count { output[i] = floatSum.pointer[i] * factor }
        }
    }
}
