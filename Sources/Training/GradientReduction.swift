import Distributed
import Engine
import Model

/// Sums the gradients of a step's micro-batches on this rank and averages them over all micro-batches
/// of the global minibatch, across ranks. The one place where gradients are combined.
///
/// The active parameters are laid into buckets of `bucketValues` values, in layout order (small tensors
/// share a bucket, large ones are split). During the backward pass of a rank's last micro-batch, a
/// bucket's allreduce starts (non-blocking, out of place) as soon as every parameter in it has its final
/// gradient, and the reductions in flight are polled after each layer, so communication overlaps the
/// rest of the backward pass; `finish` waits for all of them.
///
/// In deterministic mode each micro-batch's gradient is rounded to fixed point (an integer multiple
/// of 2^-40) and summed as 64-bit integers, locally and through the allreduce. Integer addition is
/// exact, so the sum does not depend on which rank computed which micro-batch, on the order of the
/// additions, or on the reduction algorithm MPI picks: the same global minibatch gives the same bits
/// on any number of ranks. The fast mode sums floats, whose rounding depends on that order.
final class GradientReducer {
    let deterministic: Bool
    let bucketValues: Int

    /// 2^40: resolution 9e-13 (float32 keeps ~7 digits of gradients down to 1e-5 this way), and room
    /// for sums up to ±4.2e6 before 64 bits overflow.
    static let fixedPointScale = Double(1 << 40)
    static let largestSum = Double(Int64.max) / fixedPointScale / 2

    private var capacity = 0
    private var floatSum = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var fixedSum = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    /// Gradient values reduced in the current step.
    private(set) var count = 0
    private var parameters: [Parameter] = []
    private var bucketsOfParameter: [Range<Int>] = []
    private var buckets: [(range: Range<Int>, parametersLeft: Int, reduction: PendingSum?)] = []
    /// Bucket allreduces started, and the bytes they summed, since the reducer was made.
    private(set) var started = (count: 0, bytes: 0)
    /// The reductions started and not yet seen complete, oldest first.
    private var inFlight: [PendingSum] = []
    private var addedInLastMicrobatch: [Bool] = []
    private var parameterAtOffset: [Int: Int] = [:]
    private let collective: Collective
    /// The network of the current step, named in errors.
    private var network = Network.generator
    private var failure: Error?
    /// Leave non-finite gradients out (counting them in `nonFiniteValues`) instead of failing.
    let toleratesNonFinite: Bool
    /// Non-finite gradient values this rank met in the current step.
    private(set) var nonFiniteValues = 0

    init(deterministic: Bool, bucketValues: Int, toleratesNonFinite: Bool, collective: Collective) {
        self.collective = collective
        self.deterministic = deterministic
        self.bucketValues = bucketValues
        self.toleratesNonFinite = toleratesNonFinite
    }

    deinit {
        floatSum.deallocate()
        fixedSum.deallocate()
    }

    /// Starts a step over the parameters of `layout` that lie in its first `count` values.
    func begin(layout: ParameterLayout, count: Int, network: Network) {
        self.count = count
        self.network = network
        failure = nil
        nonFiniteValues = 0
        if capacity < count {
            floatSum.deallocate()
            fixedSum.deallocate()
            floatSum = .allocate(capacity: count)
            fixedSum = .allocate(capacity: count)
            capacity = count
        }
        // Only the mode's own sums are touched: the other array stays untouched virtual memory.
        if deterministic {
            fixedSum.initialize(repeating: 0, count: count)
        } else {
            floatSum.initialize(repeating: 0, count: count)
        }
        parameters = layout.parameters.filter { $0.offset < count }
        parameterAtOffset = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { ($1.offset, $0) })
        addedInLastMicrobatch = Array(repeating: false, count: parameters.count)
        buckets = []
        inFlight = []
        bucketsOfParameter = parameters.map(addToBuckets)
    }

    /// Lays `parameter`'s values into buckets of `bucketValues` values: the last bucket's room first (small
    /// tensors share a bucket), then new ones (a large tensor is split, so no single reduction dwarfs the
    /// others). Returns the buckets it touches.
    private func addToBuckets(_ parameter: Parameter) -> Range<Int> {
        var offset = parameter.offset
        let end = parameter.offset + parameter.count
        var first: Int?
        repeat {
            let last = buckets.count - 1
            if last >= 0, buckets[last].range.count < bucketValues, buckets[last].range.upperBound == offset {
                let piece = min(bucketValues - buckets[last].range.count, end - offset)
                buckets[last].range = buckets[last].range.lowerBound..<(offset + piece)
                buckets[last].parametersLeft += 1
                offset += piece
            } else {
                let piece = min(bucketValues, end - offset)
                buckets.append((offset..<(offset + piece), 1, nil))
                offset += piece
            }
            first = first ?? buckets.count - 1
        } while offset < end
        return first!..<buckets.count
    }

    /// Adds a whole micro-batch's gradients (every micro-batch but a rank's last).
    func add(_ gradients: UnsafePointer<Float>) throws {
        try accumulate(gradients, 0..<count)
    }

    /// Adds one parameter's final gradient of a rank's last micro-batch, and starts the allreduce of its
    /// bucket once the bucket is complete. Called from `backward` after each layer, which is also when the
    /// reductions already started are moved on (MPI progresses them only inside MPI calls), so they
    /// proceed while the rest of the backward pass runs. Errors surface in `finish`.
    func addFinal(_ gradient: UnsafeMutablePointer<Float>, base: UnsafeMutablePointer<Float>) {
        guard failure == nil, let index = parameterAtOffset[gradient - base] else { return }
        do {
            try addLast(parameter: index, gradients: base)
            try progressReductions()
        } catch { failure = error }
    }

    /// Polls the oldest reduction still in flight (one MPI_Test moves all of them on) and drops those done.
    private func progressReductions() throws {
        while let oldest = inFlight.first, try oldest.progress() { inFlight.removeFirst() }
    }

    /// Adds what the last micro-batch's backward pass did not report (parameters it never used), waits
    /// for every bucket, and writes the mean gradient over `microbatches` micro-batches into `output`.
    func finish(microbatches: Int, lastGradients: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) throws
    {
        if let failure { throw failure }
        for index in parameters.indices where !addedInLastMicrobatch[index] {
            try addLast(parameter: index, gradients: lastGradients)
        }
        for bucket in buckets { try bucket.reduction?.wait() }
        if deterministic {
            let factor = 1 / (GradientReducer.fixedPointScale * Double(microbatches))
            for i in 0..<count { output[i] = Float(Double(fixedSum[i]) * factor) }
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

    private func addLast(parameter index: Int, gradients: UnsafePointer<Float>) throws {
        addedInLastMicrobatch[index] = true
        let parameter = parameters[index]
        try accumulate(gradients, parameter.offset..<(parameter.offset + parameter.count))
        for bucket in bucketsOfParameter[index] {
            buckets[bucket].parametersLeft -= 1
            if buckets[bucket].parametersLeft == 0 { try startReduction(bucket) }
        }
    }

    private func startReduction(_ bucket: Int) throws {
        let range = buckets[bucket].range
        let reduction =
            deterministic
            ? try collective.startSum(
                UnsafeMutableBufferPointer(start: fixedSum + range.lowerBound, count: range.count))
            : try collective.startSum(
                UnsafeMutableBufferPointer(start: floatSum + range.lowerBound, count: range.count))
        buckets[bucket].reduction = reduction
        inFlight.append(reduction)
        started.count += 1
        started.bytes += range.count * (deterministic ? MemoryLayout<Int64>.size : MemoryLayout<Float>.size)
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
            // Also rejects NaN, which fails every comparison.
            guard abs(value) < GradientReducer.largestSum else {
                throw TrainingError(
                    message: "a gradient of \(network.rawValue) is \(value), outside the deterministic "
                        + "fixed-point range (±\(Float(GradientReducer.largestSum)))")
            }
            fixedSum[i] &+= Int64((value * GradientReducer.fixedPointScale).rounded())
        }
    }
}
