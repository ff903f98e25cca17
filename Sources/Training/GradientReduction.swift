import Distributed
import Engine
import Model

/// Sums the gradients of a step's micro-batches on this rank and averages them over all micro-batches
/// of the global minibatch, across ranks. The one place where gradients are combined.
///
/// The active parameters are laid into buckets of `bucketValues` values, in layout order (small tensors
/// share a bucket, large ones are split). When there are several ranks and every one computes a
/// micro-batch in the step (`PhaseLayout.overlapsReduction`), a bucket's allreduce starts (non-blocking,
/// out of place) during the backward pass of the rank's last micro-batch, as soon as every parameter in it
/// has its final gradient, and the reductions in flight are polled after each layer, so communication
/// overlaps the rest of the backward pass. Otherwise (one rank has nothing to overlap; ranks without a
/// micro-batch run no backward pass to start the buckets in the same order as the others) every rank
/// starts them all in `finish`, in layout order. `finish` waits for all of them.
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
    /// Micro-batches added whole in the current step: until one is, the sums hold nothing of this step.
    private var wholeMicrobatchesAdded = 0
    private var parameters: [Parameter] = []
    private var bucketsOfParameter: [Range<Int>] = []
    private var buckets: [Bucket] = []
    /// Bucket allreduces started, and the bytes they summed, since the reducer was made.
    private(set) var started = (count: 0, bytes: 0)
    /// The reductions started and not yet seen complete, oldest first.
    private var inFlight: [PendingSum] = []
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
        /// How the deterministic allreduce carried the bucket's sums.
        var transport = FixedPointSums.Transport.local
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
        wholeMicrobatchesAdded = 0
        // Only the mode's own sums are touched: the other stays unallocated. Neither is cleared: the step's
        // first micro-batch stores its gradients (or `addLast` clears what no micro-batch reached).
        if deterministic {
            fixedSums.prepare(count: count)
        } else if capacity < count {
            floatSum.deallocate()
            floatSum = .allocate(capacity: count)
            capacity = count
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
                buckets.append(Bucket(range: offset..<(offset + piece), parametersLeft: 1))
                offset += piece
            }
            first = first ?? buckets.count - 1
        } while offset < end
        return first!..<buckets.count
    }

    /// Adds a whole micro-batch's gradients (every micro-batch but a rank's last, and all of them when
    /// the step does not overlap).
    func add(_ gradients: UnsafePointer<Float>) throws {
        try accumulate(gradients, 0..<count)
        wholeMicrobatchesAdded += 1
    }

    /// Adds one parameter's final gradient of a rank's last micro-batch, and starts the allreduce of its
    /// bucket once the bucket is complete. Called from `backward` after each layer, which is also when the
    /// reductions already started are moved on (MPI progresses them only inside MPI calls), so they
    /// proceed while the rest of the backward pass runs. Errors surface in `finish`.
    func addFinal(_ gradient: UnsafeMutablePointer<Float>, base: UnsafeMutablePointer<Float>) {
        guard overlapping, failure == nil, let index = parameterAtOffset[gradient - base] else { return }
        do {
            try addLast(parameter: index, gradients: base)
            try progressReductions()
        } catch { failure = error }
    }

    /// Polls the oldest reduction still in flight (one MPI_Test moves all of them on) and drops those done.
    private func progressReductions() throws {
        while let oldest = inFlight.first, try oldest.progress() { inFlight.removeFirst() }
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
                fixedSums.writeReduced(bucket.range, from: bucket.transport, times: factor, into: output)
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
        let range = parameter.offset..<(parameter.offset + parameter.count)
        if let gradients {
            try accumulate(gradients, range)
        } else if wholeMicrobatchesAdded == 0 {
            clear(range)
        }
        for bucket in bucketsOfParameter[index] {
            buckets[bucket].parametersLeft -= 1
            if buckets[bucket].parametersLeft == 0 { try startReduction(of: bucket) }
        }
    }

    private func clear(_ range: Range<Int>) {
        if deterministic {
            fixedSums.clear(range)
        } else {
            (floatSum + range.lowerBound).update(repeating: 0, count: range.count)
        }
    }

    private func startReduction(of index: Int) throws {
        let range = buckets[index].range
        guard collective.size > 1 else {
            // Alone, the local sums are the reduced ones: no pre-pass, packing or copy through MPI.
            buckets[index].transport = .local
            return
        }
        if deterministic {
            // The pre-pass: every rank learns the widest sum of the bucket, so all choose the same transport.
            var widest = [Int64(fixedSums.widestSum(range))]
            try collective.max(&widest)
            guard let transport = FixedPointSums.transport(widest: Int(widest[0]), ranks: collective.size) else {
                throw TrainingError(
                    message: "the gradient sums of \(network.rawValue) reach 2^\(widest[0] - 40): too large to "
                        + "reduce exactly over \(collective.size) ranks (training diverged; lower the learning "
                        + "rate or resume from an earlier checkpoint)")
            }
            buckets[index].transport = transport
            buckets[index].reductions = try fixedSums.startSum(range, in: transport, over: collective)
        } else {
            let values = UnsafeMutableBufferPointer(start: floatSum + range.lowerBound, count: range.count)
            buckets[index].reductions = [try collective.startSum(values)]
        }
        inFlight += buckets[index].reductions
        started.count += buckets[index].reductions.count
        started.bytes += range.count * (deterministic ? buckets[index].transport.bytesPerValue : 4)
    }

    /// Adds `gradients[range]` to the sums, or stores them there if no micro-batch has been added yet.
    private func accumulate(_ gradients: UnsafePointer<Float>, _ range: Range<Int>) throws {
        let storing = wholeMicrobatchesAdded == 0
        guard deterministic else {
            if storing {
                (floatSum + range.lowerBound).update(from: gradients + range.lowerBound, count: range.count)
            } else {
                for i in range { floatSum[i] += gradients[i] }
            }
            return
        }
        let (skipped, rejected) = fixedSums.add(
            gradients, range, storing: storing, skippingNonFinite: toleratesNonFinite)
        nonFiniteValues += skipped
        if let rejected {
            throw TrainingError(
                message: "a gradient of \(network.rawValue) is \(rejected): it or the sum it joins lies outside "
                    + "the deterministic fixed-point range (±\(Float(FixedPointSums.largestValue)))")
        }
    }
}
