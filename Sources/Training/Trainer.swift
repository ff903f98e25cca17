import Dataset
import Distributed
import Engine
import Foundation
import Model

/// Losses of one step, averaged over micro-batches (and, by `ReplicaGroup.mean`, over ranks), in
/// logging order.
public typealias StepLog = [(String, Float)]

public struct TrainingError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The GAN step: one D update and one G update per global minibatch on this rank's replica, with EMA
/// and the non-finite policy. It knows its share of each minibatch and hands gradients to the reducer;
/// keeping replicas in lock step is `ReplicaGroup`'s job, and ticks and files are `TrainingRun`'s.
public final class Trainer {
    public let config: TrainingConfig
    public let replica: Replica
    public let dataset: PreparedDataset
    private var minibatches: MinibatchSource
    private let random: RandomStreams
    /// The dataset's labels in a conditional run.
    private let classes: ClassLabels?
    private let reducer: GradientReducer
    private let rank: Int
    private let ranks: Int
    /// The schedule with global minibatches for this world size.
    private let globalSchedule: ScheduleConfig
    /// Wall time spent combining gradients across ranks (including waiting for slower ranks).
    public private(set) var reductionSeconds = 0.0
    /// Gradient allreduces started and the bytes they summed, over the trainer's life.
    public var reductions: (count: Int, bytes: Int) { reducer.started }
    /// Updates skipped for a non-finite loss or gradient (with `skip_non_finite_steps`).
    public private(set) var skippedUpdates = 0
    /// One gradient buffer per micro-batch running side by side (`backwardPasses`), of the larger network.
    private var laneGradients: [FloatBuffer] = []

    public init(config: TrainingConfig, dataset: PreparedDataset, collective: Collective = SingleProcess()) throws {
        try config.validate(worldSize: collective.size)
        let config = try config.conditioned(on: dataset)
        let network = config.network
        guard network.imageChannels == PreparedDataset.channels else {
            throw TrainingError(
                message: "image_channels \(network.imageChannels): prepared datasets hold RGB "
                    + "images (3 channels)")
        }
        guard dataset.levels.contains(network.resolution) else {
            throw TrainingError(
                message: "\(dataset.path): holds resolutions "
                    + "\(dataset.levels.map(String.init).joined(separator: ", ")); "
                    + "the run needs \(network.resolution)x\(network.resolution)")
        }
        self.config = config
        self.dataset = dataset
        random = RandomStreams(seed: config.seed)
        classes = try ClassLabels(config: config, dataset: dataset, random: random)
        minibatches = MinibatchSource(dataset: dataset, recipe: config.recipe, random: random)
        (rank, ranks) = (collective.rank, collective.size)
        globalSchedule = config.globalSchedule(ranks: ranks)
        reducer = GradientReducer(
            deterministic: config.deterministic, bucketValues: config.bucketValues,
            toleratesNonFinite: config.skipNonFiniteSteps, collective: collective)
        replica = Replica(config.recipe)
    }

    public var progress: Progress { replica.progress }

    public var schedule: SchedulePoint {
        schedulePoint(
            imagesShown: progress.imagesShown, config: globalSchedule,
            finalResolution: config.network.resolution)
    }

    /// One D update and one G update on the next global minibatch.
    ///
    /// This rank's micro-batches (the phase's `PhaseLayout`; possibly none) each get their own forward and
    /// backward pass and loss (a mean over the micro-batch); the reducer averages their gradients over
    /// every micro-batch of the global minibatch, on all ranks. The log holds this rank's share of the
    /// step's mean losses: its sums over the global micro-batch count, which `ReplicaGroup.sum` adds up.
    ///
    /// `abandon` is asked before D's micro-batches, where no update of this step has happened yet: when
    /// it answers true the step is dropped and nil returned, leaving the replica as it was before the step
    /// (bar a phase change's optimizer reset, which the step would redo), so a checkpoint taken then
    /// resumes exactly. Every rank asks equally often (before each of the micro-batches every rank has,
    /// at least once), before any reduction of the step starts, so `abandon` may be a collective.
    @discardableResult
    public func step(abandon: () throws -> Bool = { false }) throws -> StepLog? {
        let point = enterPhase()
        let layout = try config.phaseLayout(at: point.resolution, ranks: ranks)
        let microbatches = layout.samples(rank: rank)
        let overlapping = layout.overlapsReduction
        var log = LogAccumulator(names: config.recipe.loggedNames)

        var reals: [Tensor] = [], realClasses: [Tensor?] = []
        for samples in microbatches {
            reals.append(
                try minibatches.reals(samples, position: progress.dataPosition, step: progress.step, at: point))
            realClasses.append(realLabels(samples))
        }

        // D: fakes from the current G (no gradient into G), scored against this step's reals.
        begin(.discriminator, resolution: point.resolution, overlapping: overlapping)
        let stopPoints = max(1, layout.microbatches / layout.ranks)
        let completed = try backwardPasses(
            microbatches.count, into: .discriminator, overlapping: overlapping, log: &log,
            abandon: { $0 < stopPoints ? try abandon() : false }
        ) {
            self.discriminatorTerms(
                microbatches[$0], reals: reals[$0], labels: realClasses[$0], at: point, gradientsInto: $1)
        }
        guard completed else { return nil }
        try update(.discriminator, layout: layout, overlapping: overlapping, learningRate: point.learningRate)

        // G: gradients flow through D's activations but not into its weights.
        begin(.generator, resolution: point.resolution, overlapping: overlapping)
        _ = try backwardPasses(microbatches.count, into: .generator, overlapping: overlapping, log: &log) {
            self.generatorTerms(
                microbatches[$0], reals: reals[$0], realLabels: realClasses[$0], at: point, gradientsInto: $1)
        }
        try update(.generator, layout: layout, overlapping: overlapping, learningRate: point.learningRate)

        let beta = config.ema.beta(minibatch: point.minibatch, imagesShown: progress.imagesShown)
        replica.updateAverage(beta: Float(beta), resolution: point.resolution)
        replica.progress.step += 1
        replica.progress.imagesShown += point.minibatch
        replica.progress.dataPosition += point.minibatch
        return log.means(over: layout.microbatches)
    }

    /// The backward passes of this rank's `count` micro-batches into `network`'s gradients, each handed to
    /// the reducer, their logged terms to `log`; `terms(i, gradientsInto)` builds micro-batch i's loss.
    /// `abandon(i)` is asked before micro-batch i starts (for index 0 on a rank without any), so that a
    /// stop lands at the next micro-batch boundary; false when it answered true.
    ///
    /// With more than one thread, micro-batches run side by side, one per thread, each into a gradient
    /// buffer of its own: whole passes share out over threads far better than the small kernels of one
    /// pass do. The reducer still receives them one by one in micro-batch order, so the sums are the
    /// same bits as one after another. When `overlapping`, the last micro-batch runs alone, its gradients
    /// handed over parameter by parameter as the backward pass finishes them.
    private func backwardPasses(
        _ count: Int, into network: Network, overlapping: Bool, log: inout LogAccumulator,
        abandon: (_ index: Int) throws -> Bool = { _ in false },
        terms: (_ index: Int, _ gradientsInto: UnsafeMutablePointer<Float>?) -> LossTerms
    ) throws -> Bool {
        guard count > 0 else { return try !abandon(0) }
        func passAlone(_ index: Int, last: Bool) throws {
            let micro = terms(index, nil)
            try backward(micro, into: network, last: last)
            log.add(micro.logged)
        }
        let store = replica.weights(network)
        let sideBySide = count - (overlapping ? 1 : 0)
        var first = 0
        while first < sideBySide {
            // The same rule as `PhaseLayout.passesAtOnce`, which plans memory and time for it.
            let wave = min(ThreadPool.threads, sideBySide - first)
            for index in first..<(first + wave) {
                if try abandon(index) { return false }
            }
            if wave == 1 {
                try passAlone(first, last: false)
                first += 1
                continue
            }
            while laneGradients.count < wave { laneGradients.append(FloatBuffer(count: 0, pooled: false)) }
            for lane in 0..<wave where laneGradients[lane].count < store.count {
                laneGradients[lane] = FloatBuffer(count: store.count, zeroed: false, pooled: false)
            }
            var outcomes = [Result<LossTerms, Error>?](repeating: nil, count: wave)
            outcomes.withUnsafeMutableBufferPointer { outcomes in
                concurrentTasks(wave) { lane in
                    outcomes[lane] = Result {
                        let gradients = laneGradients[lane].pointer
                        let micro = terms(first + lane, gradients)
                        try requireFinite(micro)
                        gradients.initialize(repeating: 0, count: store.count)
                        Engine.backward(micro.total)
                        return micro
                    }
                }
            }
            for lane in 0..<wave {
                let micro = try outcomes[lane]!.get()
                try reducer.add(laneGradients[lane].pointer)
                log.add(micro.logged)
            }
            first += wave
        }
        if overlapping {
            if try abandon(count - 1) { return false }
            try passAlone(count - 1, last: true)
        }
        return true
    }

    /// The schedule point of the coming step; on entering a new phase, resets Adam as official train.py
    /// does (whenever floor(lod) or ceil(lod) changes: when a fade-in starts and again when it ends).
    private func enterPhase() -> SchedulePoint {
        let point = schedule
        if (point.resolution, point.phase) != (progress.resolution, progress.phase) {
            if config.resetOptimizerOnGrowth {
                replica.generatorOptimizer.reset()
                replica.discriminatorOptimizer.reset()
            }
            // The activations change shape: the pooled buffers of the previous phase would only sit idle.
            TensorMemory.releaseUnused()
        }
        replica.progress.resolution = point.resolution
        replica.progress.phase = point.phase
        return point
    }

    /// D's fakes take the classes of the reals they are scored against, as in the official loss.py.
    private func discriminatorTerms(
        _ samples: Range<Int>, reals: Tensor, labels: Tensor?, at point: SchedulePoint,
        gradientsInto: UnsafeMutablePointer<Float>?
    ) -> LossTerms {
        let latents = random.normals(
            .discriminatorLatents, step: progress.step, samples: samples,
            width: config.network.latent)
        let fakes = withoutGradients {
            replica.generator(
                latents, labels: labels, resolution: point.resolution, alpha: point.alpha,
                weights: Weights(replica.generatorWeights))
        }
        let critic = LabelledCritic(
            replica.discriminator, labels: labels, alpha: point.alpha,
            weights: Weights(replica.discriminatorWeights, gradientsInto: gradientsInto),
            keepingLogitsOf: [reals, fakes])
        let terms = discriminatorLoss(
            config.loss, reals: reals, fakes: fakes, critic: critic.scores,
            uniforms: random.uniforms(.penaltyWeights, step: progress.step, samples: samples))
        return critic.addingClassification(to: terms, name: "d_class", total: "d_loss")
    }

    /// One-hot classes of the reals of global samples `samples` of this step; nil in an unconditional run.
    private func realLabels(_ samples: Range<Int>) -> Tensor? {
        classes.map {
            oneHot(minibatches.labels(samples, position: progress.dataPosition, from: $0.labels), classes: $0.classes)
        }
    }

    private func generatorTerms(
        _ samples: Range<Int>, reals: Tensor, realLabels: Tensor?, at point: SchedulePoint,
        gradientsInto: UnsafeMutablePointer<Float>?
    ) -> LossTerms {
        let latents = random.normals(
            .generatorLatents, step: progress.step, samples: samples,
            width: config.network.latent)
        let labels = classes?.drawn(step: progress.step, samples: samples)
        let generated = replica.generator(
            latents, labels: labels, resolution: point.resolution, alpha: point.alpha,
            weights: Weights(replica.generatorWeights, gradientsInto: gradientsInto))
        let frozen = Weights(replica.discriminatorWeights, trainable: false)
        let critic = LabelledCritic(
            replica.discriminator, labels: labels, alpha: point.alpha, weights: frozen, keepingLogitsOf: [generated])
        let realCritic = LabelledCritic(
            replica.discriminator, labels: realLabels, alpha: point.alpha, weights: frozen,
            keepingLogitsOf: [])
        let terms = generatorLoss(
            config.loss, fakeScores: critic.scores(generated), realScores: { realCritic.scores(reals) })
        return critic.addingClassification(to: terms, name: "g_class", total: "g_loss")
    }

    private func begin(_ network: Network, resolution: Int, overlapping: Bool) {
        let store = replica.weights(network)
        reducer.begin(
            layout: store.layout, count: replica.activeParameterCount(network, resolution: resolution),
            network: network, overlapping: overlapping)
    }

    /// Backpropagates one micro-batch's loss into `network`'s gradients and hands them to the reducer; in
    /// a rank's last micro-batch of an overlapping step, parameter by parameter as they become final, so
    /// buckets start reducing while the backward pass goes on.
    private func backward(_ terms: LossTerms, into network: Network, last: Bool) throws {
        try requireFinite(terms)
        let store = replica.weights(network)
        store.zeroGradients()
        guard last else {
            Engine.backward(terms.total)
            try reducer.add(store.gradients.pointer)
            return
        }
        let base = store.gradients.pointer
        Engine.backward(terms.total) { [reducer] final in reducer.addFinal(final, base: base) }
    }

    private func requireFinite(_ terms: LossTerms) throws {
        guard !config.skipNonFiniteSteps else { return }
        for (name, value) in terms.logged where !value.isFinite {
            throw TrainingError(
                message: "step \(progress.step): \(name) is \(value), not finite (training diverged; "
                    + "lower the learning rate or resume from an earlier checkpoint)")
        }
    }

    /// Replaces the active gradients by their mean over the global minibatch's micro-batches and takes
    /// an Adam step, unless a gradient is not finite: then the update is skipped (with
    /// `skip_non_finite_steps`, on every rank alike) or the run stops.
    private func update(_ network: Network, layout: PhaseLayout, overlapping: Bool, learningRate: Float) throws {
        let store = replica.weights(network), count = reducer.count
        let start = DispatchTime.now().uptimeNanoseconds
        try reducer.finish(
            microbatches: layout.microbatches, lastGradients: overlapping ? store.gradients.pointer : nil,
            into: store.gradients.pointer)
        let finite = try reducer.allFinite(UnsafeBufferPointer(start: store.gradients.pointer, count: count))
        reductionSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard finite else {
            guard config.skipNonFiniteSteps else {
                throw TrainingError(message: "step \(progress.step): a gradient of \(network.rawValue) is not finite")
            }
            skippedUpdates += 1
            return
        }
        replica.optimizer(network).update(store, count: count, learningRate: learningRate)
    }

    /// Images from the averaged generator at the current resolution and fade-in.
    public func generateAveraged(latents: Tensor) -> Tensor { generateAveraged(latents: latents, labels: nil) }

    /// The same of classes `labels`, one-hot (nil: sample i of class i mod classes in a conditional run).
    public func generateAveraged(latents: Tensor, labels: Tensor?) -> Tensor {
        replica.generateAveraged(latents: latents, labels: labels, at: schedule)
    }
}

/// Sums of the logged loss terms over a rank's micro-batches, for every name the loss logs (zeros on a
/// rank without micro-batches), so every rank's log has the same entries.
private struct LogAccumulator {
    var names: [String]
    var sums: [Double]

    init(names: [String]) {
        self.names = names
        sums = Array(repeating: 0, count: names.count)
    }

    mutating func add(_ terms: [(String, Float)]) {
        for (name, value) in terms {
            if let index = names.firstIndex(of: name) {
                sums[index] += Double(value)
            } else {
                names.append(name)
                sums.append(Double(value))
            }
        }
    }

    func means(over count: Int) -> StepLog { zip(names, sums).map { ($0, Float($1 / Double(count))) } }
}
