import Dataset
import Engine
import Metrics

/// What the metrics keep of one image set (reals or generated): SWD descriptors per pyramid level and
/// the MS-SSIM of consecutive pairs. A set is fed batch by batch, and on several ranks each rank feeds
/// its own share of positions; concatenated descriptors and summed MS-SSIM equal one process's.
public struct MetricSet {
    public let swd: SlicedWasserstein
    public private(set) var descriptors: [[Float]]
    public private(set) var multiScaleSSIMSum = 0.0
    public private(set) var multiScaleSSIMPairs = 0

    public init(swd: SlicedWasserstein) {
        self.swd = swd
        descriptors = swd.levels.map { _ in [] }
    }

    /// Adds images; MS-SSIM pairs images 0-1, 2-3, ... of the batch, so a batch starting at an even
    /// position pairs the same images however the set is split.
    public mutating func add(_ images: ImageBatch) {
        for (level, values) in swd.descriptors(of: images).enumerated() { descriptors[level] += values }
        for first in stride(from: 0, to: images.count - 1, by: 2) {
            multiScaleSSIMSum += multiScaleSSIM(images.image(first), images.image(first + 1))
            multiScaleSSIMPairs += 1
        }
    }
}

/// The images of metric sets, by position in the set, so that any split over ranks or batches sees
/// exactly the same images.
public enum MetricImages {
    /// Reals: the dataset in a seeded random order, reshuffled each time the set runs past its end.
    public static func reals(
        _ dataset: PreparedDataset, positions: Range<Int>, resolution: Int, seed: UInt64
    ) throws -> ImageBatch {
        var order: (cycle: Int, permutation: [Int]) = (-1, [])
        let indices = positions.map { position -> Int in
            let cycle = position / dataset.count
            if cycle != order.cycle {
                var random = PhiloxRandom(seed: seed).substream(UInt64(cycle))
                order = (cycle, random.permutation(dataset.count))
            }
            return order.permutation[position % dataset.count]
        }
        return try images(dataset, indices: indices, resolution: resolution)
    }

    /// A folder of images measured as it is (`evaluate --generated`): in the dataset's stored order, which
    /// is the folder's sorted by path, cycling past its end.
    public static func stored(_ dataset: PreparedDataset, positions: Range<Int>, resolution: Int) throws -> ImageBatch {
        try images(dataset, indices: positions.map { $0 % dataset.count }, resolution: resolution)
    }

    private static func images(_ dataset: PreparedDataset, indices: [Int], resolution: Int) throws -> ImageBatch {
        let batch = Tensor(zeros: [indices.count, PreparedDataset.channels, resolution, resolution])
        try dataset.fillBatch(indices: indices, resolution: resolution, mirror: nil, into: batch.pointer)
        return ImageBatch(unitRange: batch)
    }

    /// Generated: the latent of position p is drawn from substream p of `seed`.
    public static func generated(
        positions: Range<Int>, latentSize: Int, seed: UInt64, generator: (Tensor) -> Tensor
    ) -> ImageBatch {
        var latents: [Float] = []
        latents.reserveCapacity(positions.count * latentSize)
        for position in positions {
            var random = PhiloxRandom(seed: seed).substream(UInt64(position))
            latents += random.normal(shape: [latentSize]).scalars
        }
        return ImageBatch(unitRange: generator(Tensor(shape: [positions.count, latentSize], values: latents)))
    }
}

/// Rank `rank`'s contiguous share of the positions `0..<images` of a metric set, in whole batches of
/// `batchSize` starting at multiples of it, so that each image is computed in the same batch however
/// the set is split: a generator's output can change in its last bits with the batch around it, and SWD
/// picks each image's patches by a hash of its bits.
public func metricShare(of images: Int, batchSize: Int, rank: Int, ranks: Int) -> Range<Int> {
    let batches = (images + batchSize - 1) / batchSize, batchesPerRank = (batches + ranks - 1) / ranks
    let start = min(rank * batchesPerRank * batchSize, images)
    return start..<min(start + batchesPerRank * batchSize, images)
}

/// Feeds `positions` to `set` in batches of `batchSize` (an even number, so MS-SSIM pairs stay aligned).
public func feed(
    _ set: inout MetricSet, positions: Range<Int>, batchSize: Int, images: (Range<Int>) throws -> ImageBatch
) rethrows {
    precondition(
        batchSize > 0 && batchSize % 2 == 0 && positions.lowerBound % 2 == 0,
        "metric batches must start at even positions")
    for start in stride(from: positions.lowerBound, to: positions.upperBound, by: batchSize) {
        set.add(try images(start..<min(start + batchSize, positions.upperBound)))
    }
}

extension TrainingConfig {
    /// How many of `ticks` (numbered from 1, of a run whose last tick is `lastTick`), all ending at
    /// `resolution`, measure SWD and MS-SSIM: every `swdTicks`-th tick and the last, from the smallest size
    /// SWD's pyramid has.
    public func qualityTickCount(_ ticks: ClosedRange<Int>, lastTick: Int, resolution: Int) -> Int {
        let period = self.swdTicks
        guard period > 0, resolution >= SlicedWasserstein.smallestLevel, ticks.lowerBound >= 1 else { return 0 }
        let multiples = ticks.upperBound / period - (ticks.lowerBound - 1) / period
        return multiples + (ticks.contains(lastTick) && lastTick % period != 0 ? 1 : 0)
    }

    /// Whether the end of tick `tick` (the run's last with `final`), at `resolution`, measures them.
    public func measuresQuality(tick: Int, final: Bool, resolution: Int) -> Bool {
        qualityTickCount(tick...tick, lastTick: final ? tick : Int.max, resolution: resolution) == 1
    }
}

/// The quality figures a run measures at the ends of ticks: SWD (x1e3, per level and mean) between a
/// generator's images and the reals, and the MS-SSIM of generated pairs, on `images` fixed latents and
/// real images, so values are comparable from tick to tick. The reals' descriptors are computed at the
/// first measurement at each resolution and kept.
public struct GeneratorQuality {
    public let images: Int
    private let seed: UInt64
    private let latentSize: Int
    private var realSets: [Int: MetricSet] = [:]
    private static let batchSize = 32

    /// `trainingSeed`: the run's seed; the metric draws get a seed of their own from it, so they never
    /// coincide with the training or grid streams.
    public init(images: Int, trainingSeed: UInt64, latentSize: Int) {
        (self.images, self.latentSize) = (images, latentSize)
        seed = trainingSeed ^ 0x5357_445f_4d45_5452
    }

    public mutating func measure(
        resolution: Int, dataset: PreparedDataset, generator: (Tensor) -> Tensor
    ) throws -> [(String, Double)] {
        let swd = SlicedWasserstein(resolution: resolution, seed: seed)
        var reals = realSets[resolution] ?? MetricSet(swd: swd)
        if realSets[resolution] == nil {
            try feed(&reals, positions: 0..<images, batchSize: Self.batchSize) {
                try MetricImages.reals(dataset, positions: $0, resolution: resolution, seed: seed)
            }
        }
        realSets[resolution] = reals
        var generated = MetricSet(swd: swd)
        feed(&generated, positions: 0..<images, batchSize: Self.batchSize) {
            MetricImages.generated(positions: $0, latentSize: latentSize, seed: seed, generator: generator)
        }
        let distances = swd.distances(reals.descriptors, generated.descriptors)
        return zip(swd.levels, distances).map { ("swd_\($0.0)", $0.1) }
            + [
                ("swd_mean", distances.reduce(0, +) / Double(distances.count)),
                ("ms_ssim", generated.multiScaleSSIMSum / Double(generated.multiScaleSSIMPairs)),
            ]
    }
}
