import Dataset
import Distributed
import Engine
import Foundation
import Metrics
import Model

/// What the run will cost where it has not been yet, timed on this machine before training starts: a few
/// training steps at each resolution still ahead, on scratch networks of the same widths and this rank's
/// share of each minibatch, the tick ends' SWD and MS-SSIM on a few images there, and one batch of
/// Inception features when the run ends with FID or KID.
/// `RemainingTime` scales these to the speed measured in the run itself, so the ETA of the first ticks
/// follows the shape of this machine's cost curve (which depends on the widths, the threads and the BLAS)
/// instead of a constant.
///
/// The scratch networks have their own replica and random streams: the run's state and bits are untouched.
/// Every rank probes at once, so the cores are as busy as in training.
public struct CostProbe: Sendable {
    /// Seconds per image of a training step on this rank, by resolution.
    public var secondsPerImage: [Int: Double]
    /// Seconds per image of one set (reals or generated) of the tick ends' quality metrics, by resolution.
    public var qualitySecondsPerImage: [Int: Double]
    /// Seconds per image of Inception features (batches of `InceptionScores.batchSize`); nil when not timed.
    public var inceptionSecondsPerImage: Double?

    public init(
        secondsPerImage: [Int: Double] = [:], qualitySecondsPerImage: [Int: Double] = [:],
        inceptionSecondsPerImage: Double? = nil
    ) {
        (self.secondsPerImage, self.qualitySecondsPerImage) = (secondsPerImage, qualitySecondsPerImage)
        self.inceptionSecondsPerImage = inceptionSecondsPerImage
    }

    /// Times the resolutions from `current` up. Each scratch trainer takes two untimed steps (the second
    /// still takes buffers from the system, and their page faults), smallest resolution first, stopping
    /// before one that would take the total past half of `budgetSeconds` (a large network's top resolutions
    /// then keep `RemainingTime`'s model; the first is always timed). Then rounds of one step at each
    /// resolution in turn, at least 5 and a second of them (at most 30) as long as the budget lasts, and
    /// at least one: the median step of each resolution.
    /// Only the ratios between resolutions are used, and interleaving keeps them steady when a shared
    /// machine slows down for a while; a probe of one resolution after another would charge that slowdown to
    /// whichever resolution it hit.
    public static func measure(
        config: TrainingConfig, dataset: PreparedDataset, rank: Int, ranks: Int, from current: Int,
        inception: InceptionFeatures?, budgetSeconds: Double = 20
    ) throws -> CostProbe {
        let started = DispatchTime.now().uptimeNanoseconds
        func elapsed(since start: UInt64 = started) -> Double {
            Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var trainers: [(resolution: Int, trainer: Trainer)] = [], lastWarmUp = 0.0
        for resolution in config.network.resolutions where resolution >= current {
            // An image costs about 3x more per doubling at the widths tried; 4x leaves a margin.
            guard trainers.isEmpty || elapsed() + 4 * lastWarmUp <= budgetSeconds / 2 else { break }
            let start = DispatchTime.now().uptimeNanoseconds
            guard let trainer = try scratchTrainer(config, dataset: dataset, rank: rank, ranks: ranks, at: resolution)
            else { continue }
            for _ in 0..<2 { try trainer.step() }
            trainers.append((resolution, trainer))
            lastWarmUp = elapsed(since: start)
        }
        var steps = trainers.map { _ in [Double]() }
        let roundsStarted = DispatchTime.now().uptimeNanoseconds
        var rounds = 0
        while !trainers.isEmpty,
            rounds == 0 || (rounds < 5 || elapsed(since: roundsStarted) < 1 && rounds < 30) && elapsed() < budgetSeconds
        {
            rounds += 1
            for (index, scratch) in trainers.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try scratch.trainer.step()
                steps[index].append(elapsed(since: start))
            }
        }
        var probe = CostProbe()
        var lastQuality = 0.0
        for (index, scratch) in trainers.enumerated() {
            let images = Double(scratch.trainer.config.schedule.minibatchDefault)
            probe.secondsPerImage[scratch.resolution] = steps[index].sorted()[steps[index].count / 2] / images
            // Rank 0 alone measures quality in training, here too within the budget (the pyramid's cost grows
            // with the pixels). A few images: descriptors and MS-SSIM pairs cost the same per image at any
            // count (the distances' sorts grow a little faster).
            guard rank == 0, config.measuresQuality(tick: 1, final: true, resolution: scratch.resolution),
                elapsed() + 4 * lastQuality <= budgetSeconds
            else { continue }
            var quality = GeneratorQuality(
                images: min(config.swdImages, 32), trainingSeed: config.seed, latentSize: config.network.latent)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try quality.measure(
                resolution: scratch.resolution, dataset: dataset, generator: scratch.trainer.generateAveraged)
            lastQuality = elapsed(since: start)
            probe.qualitySecondsPerImage[scratch.resolution] = lastQuality / Double(2 * quality.images)
        }
        if let inception {
            let size = InceptionScores.batchSize, side = config.network.resolution
            let batch = ImageBatch(
                count: size, side: side,
                values: [Float](repeating: 128, count: size * ImageBatch.channels * side * side))
            // The first call sizes buffers and takes up to twice as long as the ones after it.
            _ = inception.features(of: batch)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = inception.features(of: batch)
            probe.inceptionSecondsPerImage = elapsed(since: start) / Double(size)
        }
        return probe
    }

    /// What the final FID/KID adds to the run's last tick on rank 0: Inception features of its share of the
    /// generated images, and of the reals unless their features are cached from an earlier run; 0 when not
    /// timed (neither metric is on).
    public func finalEvaluationSeconds(config: TrainingConfig, dataset: PreparedDataset, ranks: Int) -> Double {
        guard let perImage = inceptionSecondsPerImage else { return 0 }
        let last = schedulePoint(
            imagesShown: config.totalImages - 1, config: config.globalSchedule(ranks: ranks),
            finalResolution: config.network.resolution)
        let realsCached = FileManager.default.fileExists(
            atPath: InceptionScores.realFeaturesCachePath(
                dataset, count: config.fidImages, resolution: last.resolution, seed: config.inceptionSeed,
                beside: dataset.path))
        let share = metricShare(of: config.fidImages, batchSize: InceptionScores.batchSize, rank: 0, ranks: ranks)
        return Double((realsCached ? 1 : 2) * share.count) * perImage
    }

    /// How long a run's probe may take: at most 20 s, and well within the collective timeout, since the
    /// other ranks wait in their first collective for rank 0's longer probe (it also times the metrics).
    public static func budgetSeconds(_ config: TrainingConfig) -> Double {
        min(20, config.collectiveTimeoutSeconds / 4)
    }

    /// A trainer at `resolution` on this rank's share of each minibatch there, nil for a rank idle there.
    private static func scratchTrainer(
        _ config: TrainingConfig, dataset: PreparedDataset, rank: Int, ranks: Int, at resolution: Int
    ) throws -> Trainer? {
        let layout = try config.phaseLayout(at: resolution, ranks: ranks)
        let images = layout.samples(rank: rank).map(\.count).reduce(0, +)
        guard images > 0 else { return nil }
        let scratch = config.with {
            $0.network.resolution = resolution
            $0.schedule.stabilizeKimg = 0
            $0.schedule.fadeKimg = 0
            $0.schedule.minibatch = [:]
            $0.schedule.minibatchDefault = images
            $0.microbatch = layout.microbatchSize
            $0.totalKimg = Double(40 * images) / 1000
        }
        return try Trainer(config: scratch, dataset: dataset)
    }
}

extension TrainingConfig {
    /// The draws of FID and KID get their own seed, apart from the training, grid and SWD streams.
    var inceptionSeed: UInt64 { recipe.seed ^ 0x4649_445f_4d45_5452 }
}
