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
