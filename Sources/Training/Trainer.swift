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
    /// Resolution of the last step (4 before the first).
    public var resolution = 4
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
    public private(set) var progress = Progress()
    private var epochOrder: (epoch: Int, order: [Int]) = (-1, [])

    public init(config: TrainingConfig, dataset: PreparedDataset, collective: Collective = SingleProcess()) throws {
        try config.validate(worldSize: collective.size)
        guard dataset.levels.contains(config.network.resolution) else {
            throw TrainingError(message: "the dataset holds resolutions \(dataset.levels.map(String.init).joined(separator: ", ")); "
                                + "the run needs \(config.network.resolution)x\(config.network.resolution)")
        }
        self.config = config
        self.dataset = dataset
        self.collective = collective
        random = RandomStreams(seed: config.seed)
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

    /// Real images of this rank's share, cross-faded during a fade-in the way G's output is (official
    /// train.py `process_reals`): a blend of the image and its downsampled-then-upsampled copy.
    func reals(samples: Range<Int>, at point: SchedulePoint) -> Tensor {
        let indices = samples.map { datasetIndex(progress.dataPosition + $0) }
        let flips = config.mirror ? random.uniforms(.mirrorFlips, step: progress.step, samples: samples).scalars.map { $0 < 0.5 } : nil
        let size = point.resolution
        let images = Tensor(zeros: [samples.count, config.network.imageChannels, size, size])
        dataset.fillBatch(indices: indices, resolution: size, mirror: flips, into: images.pointer)
        return point.alpha < 1 ? lerp(upsample2x(avgPool2x2(images)), images, point.alpha) : images
    }

    /// One D update and one G update on the next global minibatch.
    @discardableResult
    public func step() throws -> StepLog {
        let point = schedule
        if point.resolution != progress.resolution && config.resetOptimizerOnGrowth {
            generatorOptimizer.reset()
            discriminatorOptimizer.reset()
        }
        progress.resolution = point.resolution
        let perRank = point.minibatch / collective.size
        let samples = (collective.rank * perRank)..<((collective.rank + 1) * perRank)
        let alpha = point.alpha, resolution = point.resolution
        let generatorCount = generator.activeParameterCount(resolution: resolution)
        let discriminatorCount = discriminator.activeParameterCount(resolution: resolution)
        let latent = config.network.latent

        // D step: fakes from the current G, no gradient into G.
        let realImages = reals(samples: samples, at: point)
        let latentsForD = random.normals(.discriminatorLatents, step: progress.step, samples: samples, width: latent)
        let fakes = withoutGradients {
            generator(latentsForD, resolution: resolution, alpha: alpha, weights: Weights(generatorWeights))
        }
        discriminatorWeights.zeroGradients()
        let discriminatorTerms = discriminatorLoss(
            config.loss, reals: realImages, fakes: fakes,
            critic: { discriminator($0, alpha: alpha, weights: Weights(discriminatorWeights)) },
            uniforms: random.uniforms(.penaltyWeights, step: progress.step, samples: samples))
        try requireFinite(discriminatorTerms)
        backward(discriminatorTerms.total)
        try update(discriminatorWeights, with: discriminatorOptimizer, count: discriminatorCount, point: point, network: "D")

        // G step: gradients flow through D's activations but not into its weights.
        generatorWeights.zeroGradients()
        let latentsForG = random.normals(.generatorLatents, step: progress.step, samples: samples, width: latent)
        let frozenCritic = { (images: Tensor) in self.discriminator(images, alpha: alpha, weights: Weights(self.discriminatorWeights, trainable: false)) }
        let generated = generator(latentsForG, resolution: resolution, alpha: alpha, weights: Weights(generatorWeights))
        let generatorTerms = generatorLoss(config.loss, fakeScores: frozenCritic(generated), realScores: { frozenCritic(realImages) })
        try requireFinite(generatorTerms)
        backward(generatorTerms.total)
        try update(generatorWeights, with: generatorOptimizer, count: generatorCount, point: point, network: "G")

        let beta = config.ema.beta(minibatch: point.minibatch, imagesShown: progress.imagesShown)
        updateMovingAverage(averagedGeneratorWeights.values.pointer, toward: generatorWeights.values.pointer,
                            count: generatorCount, beta: Float(beta))

        progress.step += 1
        progress.imagesShown += point.minibatch
        progress.dataPosition += point.minibatch
        return try averagedOverRanks(discriminatorTerms.logged + generatorTerms.logged)
    }

    private func requireFinite(_ terms: LossTerms) throws {
        for (name, value) in terms.logged where !value.isFinite {
            throw TrainingError(message: "step \(progress.step): \(name) is \(value) (training diverged; lower the learning rate "
                                + "or resume from an earlier checkpoint)")
        }
    }

    /// Averages the gradients of the active parameters over ranks and takes an Adam step.
    private func update(_ store: ParameterStore, with optimizer: Adam, count: Int, point: SchedulePoint, network: String) throws {
        let gradients = UnsafeMutableBufferPointer(start: store.gradients.pointer, count: count)
        try collective.average(gradients)
        for value in gradients where !value.isFinite {
            throw TrainingError(message: "step \(progress.step): a gradient of \(network) is \(value)")
        }
        optimizer.update(store, count: count, learningRate: point.learningRate)
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
        var tensors: [TrainingState.TensorEntry] = []
        let sections: [(String, ParameterStore)] = [("g", generatorWeights), ("d", discriminatorWeights), ("g_ema", averagedGeneratorWeights)]
        for (section, store) in sections {
            tensors += store.layout.parameters.map { .init(section: section, name: $0.name, shape: $0.shape, offset: $0.offset) }
        }
        func array(_ buffer: FloatBuffer) -> [Float] { Array(UnsafeBufferPointer(start: buffer.pointer, count: buffer.count)) }
        let state = TrainingState(config: config, step: progress.step, imagesShown: progress.imagesShown,
                                  dataPosition: progress.dataPosition, resolution: progress.resolution,
                                  adamGeneratorStep: generatorOptimizer.step, adamDiscriminatorStep: discriminatorOptimizer.step,
                                  randomScheme: "philox4x32-10 substreams of (seed, step, purpose)", tensors: tensors)
        return Checkpoint(state: state, buffers: [
            "g": array(generatorWeights.values), "d": array(discriminatorWeights.values), "g_ema": array(averagedGeneratorWeights.values),
            "adam_g_m": array(generatorOptimizer.firstMoment), "adam_g_v": array(generatorOptimizer.secondMoment),
            "adam_d_m": array(discriminatorOptimizer.firstMoment), "adam_d_v": array(discriminatorOptimizer.secondMoment),
        ])
    }

    /// Continues from `checkpoint`, which must come from a run with the same configuration.
    public func restore(_ checkpoint: Checkpoint, path: String) throws {
        guard checkpoint.state.config == config else {
            throw CheckpointError(path: path, problem: "written by a run with a different configuration")
        }
        let targets: [(String, FloatBuffer)] = [
            ("g", generatorWeights.values), ("d", discriminatorWeights.values), ("g_ema", averagedGeneratorWeights.values),
            ("adam_g_m", generatorOptimizer.firstMoment), ("adam_g_v", generatorOptimizer.secondMoment),
            ("adam_d_m", discriminatorOptimizer.firstMoment), ("adam_d_v", discriminatorOptimizer.secondMoment),
        ]
        for (name, buffer) in targets {
            guard let values = checkpoint.buffers[name], values.count == buffer.count else {
                throw CheckpointError(path: path, problem: "section '\(name)' is missing or has the wrong size")
            }
            values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
        }
        let state = checkpoint.state
        generatorOptimizer.restore(step: state.adamGeneratorStep)
        discriminatorOptimizer.restore(step: state.adamDiscriminatorStep)
        progress = Progress(step: state.step, imagesShown: state.imagesShown, dataPosition: state.dataPosition,
                            resolution: state.resolution)
    }
}
