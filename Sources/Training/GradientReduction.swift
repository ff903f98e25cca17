import Distributed
import Engine
import Model

/// Sums the gradients of a step's micro-batches on this rank and averages them over all micro-batches
/// of the global minibatch, across ranks. The one place where gradients are combined.
///
/// The active parameters are grouped into buckets of about `bucketValues` values, in layout order.
/// When every rank computes a micro-batch in the step, a bucket's allreduce starts (non-blocking) during
/// the backward pass of the rank's last micro-batch, as soon as every parameter in it has its final
/// gradient, so communication overlaps the rest of the backward pass. Otherwise the ranks without a
/// micro-batch, which run no backward pass, could not start the buckets in the same order as the others:
/// then every rank starts them all in `finish`, in layout order. `finish` waits for all of them.
///
/// In deterministic mode each micro-batch's gradient is rounded to a fixed grid and summed exactly
/// (`FixedPointSums`), locally and through the allreduce: the sum does not depend on which rank computed
/// which micro-batch, on the order of the additions or on the reduction algorithm MPI picks, so the same
/// global minibatch gives the same bits on any number of ranks, and a sum too large for the exact range
/// is an error, never a wrap. The fast mode sums floats, whose rounding depends on that order.
final class GradientReducer {
    let deterministic: Bool
    let bucketValues: Int

    private var capacity = 0
    private var floatSum = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private let fixedSums = FixedPointSums()
    /// Gradient values reduced in the current step.
    private(set) var count = 0
    private var parameters: [Parameter] = []
    private var bucketOfParameter: [Int] = []
    private var buckets: [Bucket] = []
    private var addedInLastMicrobatch: [Bool] = []
    private var parameterAtOffset: [Int: Int] = [:]
    private let collective: Collective
    /// Whether buckets start reducing during the last micro-batch's backward pass in this step.
    private var overlapping = true
    /// The network of the current step, named in errors.
    private var network = Network.generator
    private var failure: Error?
    /// Leave non-finite gradients out (counting them in `nonFiniteValues`) instead of failing.
    let toleratesNonFinite: Bool
    /// Non-finite gradient values this rank met in the current step.
    private(set) var nonFiniteValues = 0

    private struct Bucket {
        var range: Range<Int>
        var parametersLeft: Int
        var reductions: [PendingSum] = []
        /// 64-bit words per value the deterministic allreduce used.
        var limbs = 1
    }

    init(deterministic: Bool, bucketValues: Int, toleratesNonFinite: Bool, collective: Collective) {
        self.collective = collective
        self.deterministic = deterministic
        self.bucketValues = bucketValues
        self.toleratesNonFinite = toleratesNonFinite
    }

    deinit { floatSum.deallocate() }

    /// Starts a step over the parameters of `layout` that lie in its first `count` values; `overlapping`
    /// must be the same on every rank (see the type's comment).
    func begin(layout: ParameterLayout, count: Int, network: Network, overlapping: Bool = true) {
        self.count = count
        self.network = network
        self.overlapping = overlapping
        failure = nil
        nonFiniteValues = 0
        // Only the mode's own sums are touched: the other stays unallocated.
        if deterministic {
            fixedSums.reset(count: count)
        } else {
            if capacity < count {
                floatSum.deallocate()
                floatSum = .allocate(capacity: count)
                capacity = count
            }
            floatSum.initialize(repeating: 0, count: count)
        }
        parameters = layout.parameters.filter { $0.offset < count }
        parameterAtOffset = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { ($1.offset, $0) })
        addedInLastMicrobatch = Array(repeating: false, count: parameters.count)
        buckets = []
        bucketOfParameter = []
        for parameter in parameters {
            if let last = buckets.last, last.range.count + parameter.count <= bucketValues {
                buckets[buckets.count - 1].range = last.range.lowerBound..<(parameter.offset + parameter.count)
                buckets[buckets.count - 1].parametersLeft += 1
            } else {
                buckets.append(
                    Bucket(range: parameter.offset..<(parameter.offset + parameter.count), parametersLeft: 1))
            }
            bucketOfParameter.append(buckets.count - 1)
        }
    }

    /// Adds a whole micro-batch's gradients (every micro-batch but a rank's last, and all of them when
    /// the step does not overlap).
    func add(_ gradients: UnsafePointer<Float>) throws {
        try accumulate(gradients, 0..<count)
    }

    /// Adds one parameter's final gradient of a rank's last micro-batch, and starts the allreduce of its
    /// bucket once the bucket is complete. Called from `backward`; errors surface in `finish`.
    func addFinal(_ gradient: UnsafeMutablePointer<Float>, base: UnsafeMutablePointer<Float>) {
        guard overlapping, failure == nil, let index = parameterAtOffset[gradient - base] else { return }
        do { try addLast(parameter: index, gradients: base) } catch { failure = error }
    }

    /// Adds what the last micro-batch's backward pass did not report (parameters it never used; nil when
    /// the step's micro-batches were all added whole, or this rank had none), waits for every bucket, and
    /// writes the mean gradient over `microbatches` micro-batches into `output`.
    func finish(
        microbatches: Int, lastGradients: UnsafePointer<Float>?, into output: UnsafeMutablePointer<Float>
    ) throws {
        if let failure { throw failure }
        for index in parameters.indices where !addedInLastMicrobatch[index] {
            try addLast(parameter: index, gradients: overlapping ? lastGradients : nil)
        }
        for bucket in buckets {
            for reduction in bucket.reductions { try reduction.wait() }
        }
        if deterministic {
            let factor = 1 / (FixedPointSums.scale * Double(microbatches))
            for bucket in buckets {
                for i in bucket.range { output[i] = Float(fixedSums.reducedValue(at: i, limbs: bucket.limbs) * factor) }
            }
        } else {
            let factor = 1 / Float(microbatches)
            for i in 0..<count { output[i] = floatSum[i] * factor }
        }
    }

    /// Whether every value of the finished mean gradient is finite, as all ranks agree. Values left out
    /// before the reduction are known only where they occurred, so with `toleratesNonFinite` the ranks
    /// first agree on their count; the reduced values themselves are the same on every rank.
    func allFinite(_ gradients: UnsafeBufferPointer<Float>) throws -> Bool {
        if toleratesNonFinite {
            var dropped = [Double(nonFiniteValues)]
            try collective.sum(&dropped)
            if dropped[0] > 0 { return false }
        }
        return !gradients.contains { !$0.isFinite }
    }

    private func addLast(parameter index: Int, gradients: UnsafePointer<Float>?) throws {
        addedInLastMicrobatch[index] = true
        let parameter = parameters[index]
        if let gradients { try accumulate(gradients, parameter.offset..<(parameter.offset + parameter.count)) }
        let bucket = bucketOfParameter[index]
        buckets[bucket].parametersLeft -= 1
        guard buckets[bucket].parametersLeft == 0 else { return }
        try startReduction(of: bucket)
    }

    private func startReduction(of index: Int) throws {
        let range = buckets[index].range
        guard deterministic else {
            let values = UnsafeMutableBufferPointer(start: floatSum + range.lowerBound, count: range.count)
            buckets[index].reductions = [try collective.startSum(values)]
            return
        }
        // The pre-pass: every rank learns the widest sum of the bucket, so all choose the same limbs.
        var widest = [Int64(fixedSums.normalize(range) ?? 2 * FixedPointSums.largestReducedBits)]
        try collective.max(&widest)
        guard let limbs = FixedPointSums.limbs(widest: Int(widest[0]), ranks: collective.size) else {
            throw TrainingError(
                message: "the gradient sums of \(network.rawValue) reach 2^\(widest[0] - 40): too large to "
                    + "reduce exactly over \(collective.size) ranks (training diverged; lower the learning rate "
                    + "or resume from an earlier checkpoint)")
        }
        buckets[index].limbs = limbs
        buckets[index].reductions = try fixedSums.startSum(range, limbs: limbs, over: collective)
    }

    private func accumulate(_ gradients: UnsafePointer<Float>, _ range: Range<Int>) throws {
        guard deterministic else {
            for i in range { floatSum[i] += gradients[i] }
            return
        }
        for i in range {
            let value = Double(gradients[i])
            if toleratesNonFinite && !value.isFinite {
                nonFiniteValues += 1
                continue
            }
            guard fixedSums.add(value, at: i) else {
                throw TrainingError(
                    message: "a gradient of \(network.rawValue) is \(value): it or the sum it joins lies outside "
                        + "the deterministic fixed-point range (±\(Float(FixedPointSums.largestValue)))")
            }
        }
    }
}
