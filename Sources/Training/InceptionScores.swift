import Dataset
import Distributed
import Engine
import Foundation
import Metrics
import Model
import SafeIO
import Safetensors

/// FID and KID as `progan evaluate --fid --kid` and `train --fid` compute them: Inception features of a set's
/// images by all ranks in parallel, gathered on every rank in position order, and the two distances.
public enum InceptionScores {
    /// Where scripts/torch/install-inception.sh puts the converted weights, and where progan looks: the
    /// PROGAN_INCEPTION environment variable, else ~/.cache/progan/inception-2015-12-05.safetensors.
    public static var weightsPath: String {
        if let path = ProcessInfo.processInfo.environment["PROGAN_INCEPTION"], !path.isEmpty { return path }
        return NSHomeDirectory() + "/.cache/progan/inception-2015-12-05.safetensors"
    }

    /// The network, or a one-line error saying how to install it (`flag` names what asked for it).
    public static func network(for flag: String) throws -> InceptionFeatures {
        let path = weightsPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(
                message: "\(flag): the Inception weights are not installed at \(path); "
                    + "run scripts/torch/install-inception.sh (or set PROGAN_INCEPTION to the converted file)")
        }
        return try InceptionFeatures(weights: path)
    }

    /// Images per Inception batch. Batches start at multiples of it whatever the rank count, so every image
    /// goes through the same computation on 1 or N ranks and the gathered features are the same bits.
    public static let batchSize = 8

    /// Features [count, 2048] of positions 0..<count, every rank computing a contiguous run of batches.
    public static func features(
        count: Int, network: InceptionFeatures, over ranks: Collective, images: (Range<Int>) throws -> ImageBatch
    ) throws -> [Float] {
        let mine = metricShare(of: count, batchSize: batchSize, rank: ranks.rank, ranks: ranks.size)
        var local: [Float] = []
        for start in stride(from: mine.lowerBound, to: mine.upperBound, by: batchSize) {
            local += network.features(of: try images(start..<min(start + batchSize, mine.upperBound)))
        }
        guard ranks.size > 1 else { return local }
        let blocks = try ranks.allgather(unevenBytes: local.withUnsafeBytes { Array($0) })
        return blocks.flatMap { block in block.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
    }

    /// Features of `count` reals drawn as `MetricImages.reals` draws them, read from a cache file beside a
    /// prepared dataset when one was written for the same dataset identity, count, resolution and seed,
    /// else computed and the cache written by rank 0 (atomically; a cache that cannot be written is only
    /// a warning). `cacheBeside` is nil for datasets without a file of their own (a prepared folder).
    public static func realFeatures(
        _ dataset: PreparedDataset, count: Int, resolution: Int, seed: UInt64, cacheBeside: String?,
        network: InceptionFeatures, over ranks: Collective
    ) throws -> [Float] {
        let cache = cacheBeside.map {
            realFeaturesCachePath(dataset, count: count, resolution: resolution, seed: seed, beside: $0)
        }
        if let cache, let cached = try? SafetensorsFile.read(path: cache)["features"],
            cached.shape == [count, InceptionFeatures.featureCount]
        {
            return cached.values
        }
        let features = try features(count: count, network: network, over: ranks) {
            try MetricImages.reals(dataset, positions: $0, resolution: resolution, seed: seed)
        }
        if let cache, ranks.rank == 0 {
            let file = SafetensorsFile(
                tensors: [.init(name: "features", shape: [count, InceptionFeatures.featureCount], values: features)],
                metadata: ["dataset_identity": dataset.identity, "images": "\(count)", "seed": "\(seed)"])
            do { try file.write(to: cache) } catch { warn("cannot cache the reals' Inception features: \(error)") }
        }
        return features
    }

    /// Where `realFeatures` caches the features of a dataset file's reals.
    public static func realFeaturesCachePath(
        _ dataset: PreparedDataset, count: Int, resolution: Int, seed: UInt64, beside path: String
    ) -> String {
        "\(path).inception-\(dataset.identity)-\(count)x\(resolution)-seed\(seed).safetensors"
    }

    /// FID and KID of generated against real features (StyleGAN2-ADA's definitions); nil where not asked.
    public static func scores(
        real: [Float], generated: [Float], fid: Bool, kid: Bool, seed: UInt64
    ) throws -> (
        fid: Double?, kid: Double?
    ) {
        let d = InceptionFeatures.featureCount
        let frechet =
            try fid
            ? frechetDistance(
                FeatureStatistics(features: real, dimension: d), FeatureStatistics(features: generated, dimension: d))
            : nil
        let kernel = kid ? kernelInceptionDistance(real: real, generated: generated, dimension: d, seed: seed) : nil
        return (frechet, kernel)
    }

    private static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }
}
