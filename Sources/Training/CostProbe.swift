import Dataset
import Distributed
import Engine
import Foundation
import Metrics

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

    /// Times the resolutions from `current` up, smallest first, stopping before one whose probe would take
    /// the total past `budgetSeconds` (a large network's top resolutions then keep `RemainingTime`'s model).
    public static func measure(
        config: TrainingConfig, dataset: PreparedDataset, rank: Int, ranks: Int, from current: Int,
        inception: InceptionFeatures?, budgetSeconds: Double = 20
    ) throws -> CostProbe {
        var probe = CostProbe()
        var spent = 0.0, lastProbeSeconds = 0.0
        for resolution in config.network.resolutions where resolution >= current {
            // An image costs about 3x more per doubling at the widths tried; 4x leaves a margin.
            guard spent + 4 * lastProbeSeconds <= budgetSeconds else { break }
            let start = DispatchTime.now().uptimeNanoseconds
            guard let trainer = try scratchTrainer(config, dataset: dataset, rank: rank, ranks: ranks, at: resolution)
            else { continue }
            probe.secondsPerImage[resolution] = try stepSeconds(trainer)
            // Rank 0 alone measures quality in training. A few images: descriptors and MS-SSIM pairs cost the
            // same per image at any count (the distances' sorts grow a little faster).
            if rank == 0, config.measuresQuality(tick: 1, final: true, resolution: resolution) {
                var quality = GeneratorQuality(
                    images: min(config.swdImages, 32), trainingSeed: config.seed, latentSize: config.network.latent)
                let qualityStart = DispatchTime.now().uptimeNanoseconds
                _ = try quality.measure(resolution: resolution, dataset: dataset, generator: trainer.generateAveraged)
                probe.qualitySecondsPerImage[resolution] =
                    Double(DispatchTime.now().uptimeNanoseconds - qualityStart) / 1e9 / Double(2 * quality.images)
            }
            lastProbeSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            spent += lastProbeSeconds
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
            probe.inceptionSecondsPerImage = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(size)
        }
        return probe
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

    /// Seconds per image of `trainer`'s steps: two untimed steps (the second still takes buffers from the
    /// system, and their page faults), then the median step of at least 5 and a quarter of a second, so
    /// that one step slowed by another process on a shared machine does not set the estimate.
    private static func stepSeconds(_ trainer: Trainer) throws -> Double {
        for _ in 0..<2 { try trainer.step() }
        var steps: [Double] = []
        while steps.count < 5 || steps.reduce(0, +) < 0.25 && steps.count < 31 {
            let start = DispatchTime.now().uptimeNanoseconds
            try trainer.step()
            steps.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return steps.sorted()[steps.count / 2] / Double(trainer.config.schedule.minibatchDefault)
    }
}
