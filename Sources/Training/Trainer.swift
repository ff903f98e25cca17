import Dataset
import Engine
import Foundation
import ImageIO
import Model
import SafeIO

/// Progress counters of a run: what a checkpoint must restore besides the weights.
public struct Progress: Equatable {
    public var step = 0
    public var imagesShown = 0
    /// Global index of the next sample in the seeded per-epoch order.
    public var dataPosition = 0
    /// Resolution and phase of the last step (4x4, stabilizing before the first).
    public var resolution = 4
    public var phase = Phase.stabilize
}

/// Losses of one step, averaged over ranks, in logging order.
public typealias StepLog = [(String, Float)]

public struct TrainingError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// average ← β·average + (1 − β)·current, element by element.
public func updateMovingAverage(_ average: UnsafeMutablePointer<Float>, toward current: UnsafePointer<Float>, count: Int, beta: Float) {
    for i in 0..<count { average[i] = current[i] + beta * (average[i] - current[i]) }
}

/// One replica of G, D and the averaged G, trained on this rank's share of every global minibatch.
///
/// Every rank runs the same steps in the same order; the only communication is gradient averaging
/// and log averaging, so all ranks hold identical weights after every step.
public final class Trainer {
    public let config: TrainingConfig
    public let generator: Generator
    public let discriminator: Discriminator
    public let generatorWeights: ParameterStore
    public let discriminatorWeights: ParameterStore
    /// The exponential moving average of G's weights, used for samples and metrics.
    public let averagedGeneratorWeights: ParameterStore
    let generatorOptimizer: Adam
    let discriminatorOptimizer: Adam
    let dataset: PreparedDataset
    let collective: Collective
    let random: RandomStreams
    let reducer: GradientReducer
    public private(set) var progress = Progress()
    private var epochOrder: (epoch: Int, order: [Int]) = (-1, [])
    /// Added to this rank's image counter before every step when not rank 0: lets a test show that a
    /// rank whose own counters disagree still follows rank 0's decisions.
    public var counterSkewForTesting = 0
    /// Wall time spent combining gradients across ranks (including waiting for slower ranks).
    public private(set) var reductionSeconds = 0.0
    /// Updates skipped for a non-finite loss or gradient (with `skip_non_finite_steps`).
    public private(set) var skippedUpdates = 0

    public init(config: TrainingConfig, dataset: PreparedDataset, collective: Collective = SingleProcess()) throws {
        try config.validate(worldSize: collective.size)
        guard config.network.imageChannels == PreparedDataset.channels else {
            throw TrainingError(message: "image_channels \(config.network.imageChannels): prepared datasets hold RGB images (3 channels)")
        }
        guard dataset.levels.contains(config.network.resolution) else {
            throw TrainingError(message: "\(dataset.path): holds resolutions \(dataset.levels.map(String.init).joined(separator: ", ")); "
                                + "the run needs \(config.network.resolution)x\(config.network.resolution)")
        }
        self.config = config
        self.dataset = dataset
        self.collective = collective
        random = RandomStreams(seed: config.seed)
        reducer = GradientReducer(deterministic: config.deterministic, bucketValues: config.bucketValues,
                                  toleratesNonFinite: config.skipNonFiniteSteps)
        generator = Generator(config.network)
        discriminator = Discriminator(config.network)
        generatorWeights = ParameterStore(layout: generator.layout)
        discriminatorWeights = ParameterStore(layout: discriminator.layout)
        averagedGeneratorWeights = ParameterStore(layout: generator.layout)
        var initial = PhiloxRandom(seed: config.seed).substream(1 << 61)
        initializeParameters(generatorWeights, random: &initial)
        initializeParameters(discriminatorWeights, random: &initial)
        averagedGeneratorWeights.copyValues(from: generatorWeights)
        let adam = config.adam
        generatorOptimizer = Adam(count: generatorWeights.count, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon)
        discriminatorOptimizer = Adam(count: discriminatorWeights.count, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon)
    }

    public var totalImages: Int { Int((config.schedule.totalKimg * 1000).rounded()) }

    public var schedule: SchedulePoint {
        schedulePoint(imagesShown: progress.imagesShown, config: config.schedule, finalResolution: config.network.resolution)
    }

    /// Dataset index of the sample at global position `position` of the seeded epoch order.
    func datasetIndex(_ position: Int) -> Int {
        let epoch = position / dataset.count
        if epochOrder.epoch != epoch { epochOrder = (epoch, random.epochOrder(epoch, count: dataset.count)) }
        return epochOrder.order[position % dataset.count]
    }

    /// This rank's share of a global minibatch: positions `rank·b ..< (rank+1)·b` of it, b = minibatch / ranks.
    /// The global minibatch itself never depends on the number of ranks.
    public func shard(minibatch: Int) -> Range<Int> {
        let perRank = minibatch / collective.size
        return (collective.rank * perRank)..<((collective.rank + 1) * perRank)
    }

    /// Dataset indices of this rank's share of the global minibatch starting at data position `position`.
    public func shardIndices(position: Int, minibatch: Int) -> [Int] {
        shard(minibatch: minibatch).map { datasetIndex(position + $0) }
    }

    /// Real images of global samples `samples` of this step, cross-faded during a fade-in the way G's output is (official
    /// train.py `process_reals`): a blend of the image and its downsampled-then-upsampled copy.
    func reals(samples: Range<Int>, at point: SchedulePoint) -> Tensor {
        let indices = samples.map { datasetIndex(progress.dataPosition + $0) }
        let flips = config.mirror ? random.uniforms(.mirrorFlips, step: progress.step, samples: samples).scalars.map { $0 < 0.5 } : nil
        let size = point.resolution
        let images = Tensor(zeros: [samples.count, config.network.imageChannels, size, size])
        dataset.fillBatch(indices: indices, resolution: size, mirror: flips, into: images.pointer)
        return point.alpha < 1 ? fadeTowardCoarse(images, alpha: point.alpha) : images
    }

    // MARK: Keeping replicas identical

    /// Makes every rank's replica rank 0's: checks that all ranks built the same parameter layout, then
    /// copies rank 0's weights, averaged weights, optimizer state and counters to the others. Run once
    /// after construction and after a restore.
    public func synchronizeReplicas() throws {
        try verifyLayouts()
        let buffers = [generatorWeights.values, discriminatorWeights.values, averagedGeneratorWeights.values,
                       generatorOptimizer.firstMoment, generatorOptimizer.secondMoment,
                       discriminatorOptimizer.firstMoment, discriminatorOptimizer.secondMoment]
        for buffer in buffers { try collective.broadcast(buffer, root: 0) }
        var steps = [Int64(generatorOptimizer.step), Int64(discriminatorOptimizer.step)]
        try collective.broadcast(&steps, root: 0)
        generatorOptimizer.restore(step: Int(steps[0]))
        discriminatorOptimizer.restore(step: Int(steps[1]))
        try adoptLeaderCounters()
    }

    /// One line per parameter ("g.4x4.conv.weight 64x64x3x3"), the layout every rank must share.
    private var layoutDescription: [String] {
        (generator.layout.parameters + discriminator.layout.parameters).map { "\($0.name) \($0.shape.map(String.init).joined(separator: "x"))" }
    }

    private func verifyLayouts() throws {
        let mine = layoutDescription
        let hash = CRC32.checksum(Array(mine.joined(separator: "\n").utf8))
        let hashes = try collective.allgather(bytes: withUnsafeBytes(of: hash.littleEndian) { Array($0) })
        guard Set(hashes).count > 1 else { return }
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        var leader = Array(mine.joined(separator: "\n").utf8)
        var length = [Int64(leader.count)]
        try collective.broadcast(&length, root: 0)
        leader = collective.rank == 0 ? leader : [UInt8](repeating: 0, count: Int(length[0]))
        try leader.withUnsafeMutableBytes { try collective.broadcast($0, root: 0) }
        guard differing.contains(collective.rank) else {
            // A rank that matches rank 0 waits here: a differing rank ends the job with the detail.
            try collective.barrier()
            throw TrainingError(message: "rank\(differing.count > 1 ? "s" : "") \(differing.map(String.init).joined(separator: ", ")) "
                                + "built networks that differ from rank 0's")
        }
        let theirs = String(decoding: leader, as: UTF8.self).split(separator: "\n").map(String.init)
        let firstDifference = zip(mine, theirs).first { $0.0 != $0.1 }
        let detail = firstDifference.map { "here '\($0.0)', on rank 0 '\($0.1)'" } ?? "here \(mine.count) parameters, on rank 0 \(theirs.count)"
        throw TrainingError(message: "the networks built here differ from rank 0's: \(detail)")
    }

    /// Rank 0 decides where the run stands; every other rank takes its step, image and data counters, so
    /// the schedule (a pure function of them), ticks and checkpoints follow rank 0's clock exactly.
    private func adoptLeaderCounters() throws {
        if collective.rank != 0 { progress.imagesShown += counterSkewForTesting }
        var counters = [progress.step, progress.imagesShown, progress.dataPosition, progress.resolution,
                        progress.phase == .fadeIn ? 1 : 0].map(Int64.init)
        try collective.broadcast(&counters, root: 0)
        progress = Progress(step: Int(counters[0]), imagesShown: Int(counters[1]), dataPosition: Int(counters[2]),
                            resolution: Int(counters[3]), phase: counters[4] == 1 ? .fadeIn : .stabilize)
    }

    /// Whether rank 0 was asked to stop (e.g. by SIGTERM): every rank learns rank 0's answer, so all stop
    /// after the same step whichever of them received the signal first.
    public func leaderDecidesToStop(_ requestedHere: Bool) throws -> Bool {
        var flag: [Int64] = [requestedHere ? 1 : 0]
        try collective.broadcast(&flag, root: 0)
        return flag[0] != 0
    }

    /// Compares a hash of (step, images shown, resolution, weights) across ranks; a difference means the
    /// replicas drifted apart (a bug or a hardware fault), and continuing would train garbage.
    private func verifyReplicasAgree() throws {
        var crc = CRC32()
        [Int64(progress.step), Int64(progress.imagesShown), Int64(progress.resolution)].withUnsafeBytes { crc.update($0) }
        for store in [generatorWeights, discriminatorWeights, averagedGeneratorWeights] {
            crc.update(UnsafeRawBufferPointer(start: store.values.pointer, count: store.count * 4))
        }
        let hashes = try collective.allgather(bytes: withUnsafeBytes(of: crc.value.littleEndian) { Array($0) })
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        guard differing.isEmpty else {
            throw TrainingError(message: "replicas diverged by step \(progress.step): the weights or counters of rank"
                                + "\(differing.count > 1 ? "s" : "") \(differing.map(String.init).joined(separator: ", ")) differ from rank 0's")
        }
    }

    /// One D update and one G update on the next global minibatch.
    ///
    /// This rank's share is processed in micro-batches, each with its own forward and backward pass and
    /// loss (a mean over the micro-batch); the reducer averages their gradients over every micro-batch
    /// of the global minibatch. All random draws are indexed by global sample, so a micro-batch gives
    /// the same gradient on whichever rank computes it.
    @discardableResult
    public func step() throws -> StepLog {
        try adoptLeaderCounters()
        let point = schedule
        if (point.resolution, point.phase) != (progress.resolution, progress.phase) {
            // Official train.py resets Adam whenever floor(lod) or ceil(lod) changes: when a fade-in
            // starts and again when it ends.
            if config.resetOptimizerOnGrowth {
                generatorOptimizer.reset()
                discriminatorOptimizer.reset()
            }
            // The activations change shape: the pooled buffers of the previous phase would only sit idle.
            TensorMemory.releaseUnused()
        }
        progress.resolution = point.resolution
        progress.phase = point.phase
        let share = shard(minibatch: point.minibatch)
        let size = config.microbatchSize(perRank: share.count)
        let microbatches = stride(from: share.lowerBound, to: share.upperBound, by: size).map { $0..<($0 + size) }
        let globalMicrobatches = point.minibatch / size
        let alpha = point.alpha, resolution = point.resolution
        let latent = config.network.latent
        var log = LogAccumulator()

        // D step: fakes from the current G, no gradient into G.
        reducer.begin(layout: discriminator.layout, count: discriminator.activeParameterCount(resolution: resolution),
                      collective: collective, network: "D")
        var realImages: [Tensor] = []
        for (index, samples) in microbatches.enumerated() {
            let reals = self.reals(samples: samples, at: point)
            realImages.append(reals)
            let latents = random.normals(.discriminatorLatents, step: progress.step, samples: samples, width: latent)
            let fakes = withoutGradients { generator(latents, resolution: resolution, alpha: alpha, weights: Weights(generatorWeights)) }
            let terms = discriminatorLoss(config.loss, reals: reals, fakes: fakes,
                                          critic: { discriminator($0, alpha: alpha, weights: Weights(discriminatorWeights)) },
                                          uniforms: random.uniforms(.penaltyWeights, step: progress.step, samples: samples))
            try requireFinite(terms)
            try backwardAndReduce(terms.total, discriminatorWeights, last: index == microbatches.count - 1)
            log.add(terms.logged)
        }
        try update(discriminatorWeights, with: discriminatorOptimizer, microbatches: globalMicrobatches, point: point, network: "D")

        // G step: gradients flow through D's activations but not into its weights.
        reducer.begin(layout: generator.layout, count: generator.activeParameterCount(resolution: resolution),
                      collective: collective, network: "G")
        let frozenCritic = { (images: Tensor) in self.discriminator(images, alpha: alpha, weights: Weights(self.discriminatorWeights, trainable: false)) }
        for (index, (samples, reals)) in zip(microbatches, realImages).enumerated() {
            let latents = random.normals(.generatorLatents, step: progress.step, samples: samples, width: latent)
            let generated = generator(latents, resolution: resolution, alpha: alpha, weights: Weights(generatorWeights))
            let terms = generatorLoss(config.loss, fakeScores: frozenCritic(generated), realScores: { frozenCritic(reals) })
            try requireFinite(terms)
            try backwardAndReduce(terms.total, generatorWeights, last: index == microbatches.count - 1)
            log.add(terms.logged)
        }
        try update(generatorWeights, with: generatorOptimizer, microbatches: globalMicrobatches, point: point, network: "G")

        let beta = config.ema.beta(minibatch: point.minibatch, imagesShown: progress.imagesShown)
        updateMovingAverage(averagedGeneratorWeights.values.pointer, toward: generatorWeights.values.pointer,
                            count: generator.activeParameterCount(resolution: resolution), beta: Float(beta))

        progress.step += 1
        progress.imagesShown += point.minibatch
        progress.dataPosition += point.minibatch
        if progress.step % config.consistencyCheckSteps == 0 { try verifyReplicasAgree() }
        return try averagedOverRanks(log.means(over: microbatches.count))
    }

    private func requireFinite(_ terms: LossTerms) throws {
        guard !config.skipNonFiniteSteps else { return }
        for (name, value) in terms.logged where !value.isFinite {
            throw TrainingError(message: "step \(progress.step): \(name) is \(value), not finite (training diverged; lower the "
                                + "learning rate or resume from an earlier checkpoint)")
        }
    }

    /// Backpropagates one micro-batch's loss into `store` and hands its gradients to the reducer; in a
    /// rank's last micro-batch, parameter by parameter as they become final, so buckets start reducing
    /// while the backward pass goes on.
    private func backwardAndReduce(_ loss: Tensor, _ store: ParameterStore, last: Bool) throws {
        store.zeroGradients()
        guard last else {
            backward(loss)
            try reducer.add(store.gradients.pointer)
            return
        }
        let base = store.gradients.pointer
        backward(loss) { [reducer] final in reducer.addFinal(final, base: base) }
    }

    /// Replaces the active gradients by their mean over the global minibatch's micro-batches and takes
    /// an Adam step.
    private func update(_ store: ParameterStore, with optimizer: Adam, microbatches: Int, point: SchedulePoint, network: String) throws {
        let count = reducer.count
        let start = DispatchTime.now().uptimeNanoseconds
        try reducer.finish(microbatches: microbatches, lastGradients: store.gradients.pointer, into: store.gradients.pointer)
        reductionSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let gradients = UnsafeBufferPointer(start: store.gradients.pointer, count: count)
        if config.skipNonFiniteSteps {
            // Values dropped before the reduction are known only where they occurred: agree first.
            var dropped = [Double(reducer.nonFiniteValues)]
            try collective.sum(&dropped)
            if dropped[0] > 0 || gradients.contains(where: { !$0.isFinite }) {
                skippedUpdates += 1
                return
            }
        }
        for value in gradients where !value.isFinite {
            throw TrainingError(message: "step \(progress.step): a gradient of \(network) is \(value), not finite")
        }
        optimizer.update(store, count: count, learningRate: point.learningRate)
    }

    /// Sums of the logged loss terms over a rank's micro-batches.
    private struct LogAccumulator {
        var names: [String] = []
        var sums: [Double] = []

        mutating func add(_ terms: [(String, Float)]) {
            for (name, value) in terms {
                if let index = names.firstIndex(of: name) { sums[index] += Double(value) } else { names.append(name); sums.append(Double(value)) }
            }
        }

        func means(over count: Int) -> StepLog { zip(names, sums).map { ($0, Float($1 / Double(count))) } }
    }

    private func averagedOverRanks(_ log: StepLog) throws -> StepLog {
        var values = log.map { Double($0.1) }
        try collective.sum(&values)
        return zip(log, values).map { ($0.0.0, Float($0.1 / Double(collective.size))) }
    }

    /// Images from the averaged generator at the current resolution and fade-in.
    public func generateAveraged(latents: Tensor) -> Tensor {
        let point = schedule
        return withoutGradients {
            generator(latents, resolution: point.resolution, alpha: point.alpha, weights: Weights(averagedGeneratorWeights))
        }
    }

    // MARK: Checkpoints

    public func checkpoint() -> Checkpoint {
        func array(_ buffer: FloatBuffer) -> [Float] { Array(UnsafeBufferPointer(start: buffer.pointer, count: buffer.count)) }
        let state = TrainingState(config: config, configHash: config.hash, step: progress.step, imagesShown: progress.imagesShown,
                                  dataPosition: progress.dataPosition, resolution: progress.resolution, phase: progress.phase,
                                  adamGeneratorStep: generatorOptimizer.step, adamDiscriminatorStep: discriminatorOptimizer.step,
                                  randomScheme: TrainingState.randomSchemeDescription, tensors: TrainingState.tensorTable(config.network))
        return Checkpoint(state: state, buffers: [
            .g: array(generatorWeights.values), .d: array(discriminatorWeights.values), .gEMA: array(averagedGeneratorWeights.values),
            .adamGeneratorM: array(generatorOptimizer.firstMoment), .adamGeneratorV: array(generatorOptimizer.secondMoment),
            .adamDiscriminatorM: array(discriminatorOptimizer.firstMoment), .adamDiscriminatorV: array(discriminatorOptimizer.secondMoment),
        ])
    }

    /// Continues from `checkpoint`, which must come from a run with the same configuration.
    public func restore(_ checkpoint: Checkpoint, path: String) throws {
        guard config.canResume(from: checkpoint.state.config) else {
            throw CheckpointError(path: path, problem: "written by a run with a different configuration "
                                  + "(only total_kimg and reporting settings may change on resume)")
        }
        let targets: [(CheckpointSection, FloatBuffer)] = [
            (.g, generatorWeights.values), (.d, discriminatorWeights.values), (.gEMA, averagedGeneratorWeights.values),
            (.adamGeneratorM, generatorOptimizer.firstMoment), (.adamGeneratorV, generatorOptimizer.secondMoment),
            (.adamDiscriminatorM, discriminatorOptimizer.firstMoment), (.adamDiscriminatorV, discriminatorOptimizer.secondMoment),
        ]
        for (name, buffer) in targets {
            guard let values = checkpoint.buffers[name], values.count == buffer.count else {
                throw CheckpointError(path: path, problem: "section '\(name.rawValue)' is missing or has the wrong size")
            }
            values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
        }
        let state = checkpoint.state
        generatorOptimizer.restore(step: state.adamGeneratorStep)
        discriminatorOptimizer.restore(step: state.adamDiscriminatorStep)
        progress = Progress(step: state.step, imagesShown: state.imagesShown, dataPosition: state.dataPosition,
                            resolution: state.resolution, phase: state.phase)
    }
}
