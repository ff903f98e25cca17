import Foundation
import Model
import SafeIO

/// Everything that determines a run. Saved as `config.json` in the run directory and hashed into
/// every checkpoint, so a checkpoint is never resumed under a different configuration by accident.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var network: NetworkConfig
    public var schedule: ScheduleConfig
    public var loss: LossConfig
    public var adam: AdamConfig
    public var ema: EMAConfig
    /// Forget Adam's moments when a resolution is added (official `reset_opt_for_new_lod`).
    public var resetOptimizerOnGrowth: Bool
    /// Random horizontal flips of real images.
    public var mirror: Bool
    public var seed: UInt64
    /// Progress lines, sample grids and metrics are written every `tickKimg` thousand images.
    public var tickKimg: Double
    /// A checkpoint every this many ticks (and at the end).
    public var checkpointTicks: Int
    /// Checkpoints kept in the run directory; older ones are deleted.
    public var keepCheckpoints: Int
    /// Samples in each grid, drawn from fixed latents so the grids form a time-lapse.
    public var gridSamples: Int
    /// Reduce gradients exactly (fixed point), so that a run gives the same bits on any number of ranks
    /// that divides its minibatches.
    public var deterministic: Bool
    /// Images per forward/backward pass. Deterministic runs need a size that does not depend on the
    /// number of ranks; nil means the minibatch-stddev group size there, and each rank's whole share
    /// of the minibatch otherwise.
    public var microbatch: Int?
    /// On a non-finite loss or gradient, skip that update and count it instead of stopping the run.
    public var skipNonFiniteSteps: Bool
    /// Gradient values per allreduce bucket; buckets start reducing during the backward pass.
    public var bucketValues: Int
    /// Every this many steps the ranks compare a hash of their counters and weights, and stop with a
    /// message if any replica has drifted.
    public var consistencyCheckSteps: Int
    /// Every this many ticks rank 0 measures the sliced Wasserstein distance between `swdImages` fixed
    /// generated and real images and logs it (0: never; it costs about a second per 256 images at 32x32).
    public var swdTicks: Int = 0
    public var swdImages: Int = 256

    public struct AdamConfig: Codable, Equatable, Sendable {
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
    }

    /// Generator weight averaging (paper section 4.2 "G_smoothing"; Karras et al. 2018, appendix A.1).
    public struct EMAConfig: Codable, Equatable, Sendable {
        /// Per-step decay, used when `halfLifeKimg` is nil.
        public var beta: Double
        /// Half-life in thousands of images (StyleGAN2-ADA's `ema_kimg`): β = 0.5^(batch / half-life).
        /// Short CPU runs need this; β = 0.999 keeps most of the random initial G for thousands of steps.
        public var halfLifeKimg: Double?
        /// Caps the half-life at this fraction of the images shown so far, so early samples are not
        /// dominated by the initial weights (StyleGAN2-ADA's `ema_rampup`).
        public var rampup: Double?

        /// The decay for one step of `minibatch` images after `imagesShown` images.
        public func beta(minibatch: Int, imagesShown: Int) -> Double {
            guard var halfLife = halfLifeKimg.map({ $0 * 1000 }) else { return beta }
            if let rampup { halfLife = min(halfLife, Double(imagesShown) * rampup) }
            return halfLife > 0 ? pow(0.5, Double(minibatch) / halfLife) : 0
        }
    }

    /// Checks the whole configuration for a run on `worldSize` ranks; the error says which setting is
    /// wrong and why.
    public func validate(worldSize: Int = 1) throws {
        try network.validate()
        try schedule.validate()
        try loss.validate()
        func fail(_ message: String) -> ConfigError { ConfigError(message: message) }
        guard adam.beta1 >= 0, adam.beta1 < 1, adam.beta2 >= 0, adam.beta2 < 1, adam.epsilon > 0 else {
            throw fail("adam: beta1 and beta2 must be in [0, 1) and epsilon positive")
        }
        guard ema.beta >= 0, ema.beta < 1 else { throw fail("ema.beta \(ema.beta) must be in [0, 1)") }
        if let halfLife = ema.halfLifeKimg, halfLife < 0 { throw fail("ema.half_life_kimg must not be negative") }
        guard tickKimg >= 0.001 else { throw fail("tick_kimg \(tickKimg) must be at least 0.001 (one image)") }
        guard checkpointTicks > 0, keepCheckpoints > 0 else { throw fail("checkpoint_ticks and keep_checkpoints must be positive") }
        guard gridSamples > 0 else { throw fail("grid_samples \(gridSamples) must be positive") }
        if let microbatch {
            guard microbatch > 0, microbatch % network.mbstdGroupSize == 0 else {
                throw fail("microbatch \(microbatch) must be a positive multiple of the minibatch-stddev group size \(network.mbstdGroupSize)")
            }
        }
        guard bucketValues > 0 else { throw fail("bucket_values \(bucketValues) must be positive") }
        guard consistencyCheckSteps > 0 else { throw fail("consistency_check_steps \(consistencyCheckSteps) must be positive") }
        guard swdTicks >= 0 else { throw fail("swd_ticks \(swdTicks) must not be negative") }
        guard swdImages >= 2, swdImages % 2 == 0 else { throw fail("swd_images \(swdImages) must be an even number of at least 2") }
        guard worldSize > 0 else { throw fail("world size \(worldSize) must be positive") }
        for resolution in network.resolutions {
            let batch = schedule.minibatch(at: resolution)
            guard batch % worldSize == 0 else {
                throw fail("minibatch \(batch) at \(resolution)x\(resolution) is not divisible by the \(worldSize) ranks")
            }
            let perRank = batch / worldSize
            for (what, size) in [("the minibatch-stddev group size", network.mbstdGroupSize),
                                 ("the micro-batch size", microbatchSize(perRank: perRank))] where perRank % size != 0 {
                throw fail("minibatch \(batch) at \(resolution)x\(resolution) gives \(perRank) images per rank, "
                           + "not divisible by \(what) \(size)")
            }
        }
    }

    /// Whether a checkpoint of a run with configuration `other` can continue under this one: everything
    /// that shapes the weights must agree; the run's length and how often it reports may change.
    public func canResume(from other: TrainingConfig) -> Bool {
        var adjusted = other
        adjusted.schedule.totalKimg = schedule.totalKimg
        adjusted.tickKimg = tickKimg
        adjusted.checkpointTicks = checkpointTicks
        adjusted.keepCheckpoints = keepCheckpoints
        adjusted.gridSamples = gridSamples
        adjusted.consistencyCheckSteps = consistencyCheckSteps
        adjusted.swdTicks = swdTicks
        adjusted.swdImages = swdImages
        return adjusted == self
    }

    /// Images per forward/backward pass for a rank's share of `perRank` images.
    public func microbatchSize(perRank: Int) -> Int {
        if let microbatch { return microbatch }
        return deterministic ? network.mbstdGroupSize : perRank
    }

    // MARK: Presets

    public static let presetNames = ["tiny", "cpu", "paper"]

    public static func preset(_ name: String) -> TrainingConfig? {
        switch name {
        case "tiny": return tiny
        case "cpu": return cpu
        case "paper": return paper
        default: return nil
        }
    }

    /// The official CelebA-HQ configuration (config.py, train.py): 1024x1024, 600 + 600 kimg per
    /// resolution, the single-GPU minibatch table, learning rate 0.001 (0.0015 at 1024), Adam (0, 0.99),
    /// EMA 0.999, mirror augmentation.
    public static let paper = TrainingConfig(
        network: NetworkConfig(resolution: 1024),
        schedule: ScheduleConfig(stabilizeKimg: 600, fadeKimg: 600, totalKimg: 12000,
                                 minibatch: [4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4],
                                 minibatchDefault: 4, learningRate: [1024: 0.0015], learningRateDefault: 0.001),
        loss: LossConfig(), adam: AdamConfig(beta1: 0, beta2: 0.99, epsilon: 1e-8),
        ema: EMAConfig(beta: 0.999, halfLifeKimg: nil, rampup: nil), resetOptimizerOnGrowth: true, mirror: true, seed: 1000,
        tickKimg: 160, checkpointTicks: 10, keepCheckpoints: 3, gridSamples: 32, deterministic: true, microbatch: nil, skipNonFiniteSteps: false, bucketValues: 1 << 18, consistencyCheckSteps: 100)

    /// Sized for a 2-core CPU: 32x32 with at most 64 feature maps (fmap_base 1024), 8 kimg per phase and
    /// 4 kimg of stabilization at 32x32: 15.4 minutes on two ranks here (32x32 runs at ~21 images/s). The learning rate, 0.002, lies
    /// between the paper's 0.001 and pro_gan_pytorch's default 0.003; it was not tuned further.
    public static let cpu = TrainingConfig(
        network: NetworkConfig(resolution: 32, fmapBase: 1024, fmapMax: 64, latentSize: 128),
        schedule: ScheduleConfig(stabilizeKimg: 8, fadeKimg: 8, totalKimg: 52, minibatchDefault: 16, learningRateDefault: 0.002),
        loss: LossConfig(), adam: AdamConfig(beta1: 0, beta2: 0.99, epsilon: 1e-8),
        ema: EMAConfig(beta: 0.999, halfLifeKimg: 2, rampup: 0.1), resetOptimizerOnGrowth: true, mirror: true, seed: 1000,
        tickKimg: 1, checkpointTicks: 5, keepCheckpoints: 3, gridSamples: 32, deterministic: true, microbatch: nil, skipNonFiniteSteps: false, bucketValues: 1 << 18, consistencyCheckSteps: 100)

    /// For tests: 4 -> 16 in under two thousand images with a few feature maps.
    public static let tiny = TrainingConfig(
        network: NetworkConfig(resolution: 16, fmapBase: 64, fmapMax: 16, latentSize: 16),
        schedule: ScheduleConfig(stabilizeKimg: 0.2, fadeKimg: 0.2, totalKimg: 1.2, minibatchDefault: 8, learningRateDefault: 0.002),
        loss: LossConfig(), adam: AdamConfig(beta1: 0, beta2: 0.99, epsilon: 1e-8),
        ema: EMAConfig(beta: 0.999, halfLifeKimg: 0.1, rampup: nil), resetOptimizerOnGrowth: true, mirror: false, seed: 1,
        tickKimg: 0.1, checkpointTicks: 4, keepCheckpoints: 2, gridSamples: 8, deterministic: true, microbatch: nil, skipNonFiniteSteps: false, bucketValues: 1 << 18, consistencyCheckSteps: 10)

    // MARK: JSON

    public static func decode(_ data: Data) throws -> TrainingConfig {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(TrainingConfig.self, from: data)
    }

    /// CRC32 of the JSON encoding, as 8 hex digits.
    public var hash: String { String(format: "%08x", CRC32.checksum(Array(encoded()))) }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! encoder.encode(self)
    }
}

extension TrainingConfig {
    /// `self` with the settings of a JSON object laid over it. Keys are snake_case as in config.json;
    /// nested objects merge key by key, and a key this version does not know is an error rather than
    /// a silently ignored typo.
    public func overlaid(withJSON data: Data, source: String) throws -> TrainingConfig {
        let overlay: Any
        do {
            overlay = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError(message: "\(source): not valid JSON (\(error.localizedDescription))")
        }
        guard let overlayObject = overlay as? [String: Any],
              let base = try JSONSerialization.jsonObject(with: encoded()) as? [String: Any] else {
            throw ConfigError(message: "\(source): the top level must be a JSON object")
        }
        let merged = try Self.merge(overlayObject, into: base, path: "", source: source)
        do {
            return try Self.decode(JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigError(message: "\(source): '\(key)' has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigError(message: "\(source): '\(key)' has an invalid value (\(context.debugDescription))")
        } catch {
            throw ConfigError(message: "\(source): \(error)")
        }
    }

    /// Keys whose values are maps with free keys (per-resolution tables), or optional settings that
    /// the encoder leaves out when unset.
    private static let openKeys: Set<String> = ["schedule.minibatch", "schedule.learning_rate", "ema.half_life_kimg",
                                                "ema.rampup", "network.latent_size"]

    private static func merge(_ overlay: [String: Any], into base: [String: Any], path: String, source: String) throws -> [String: Any] {
        var result = base
        for (key, value) in overlay {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if openKeys.contains(keyPath) {
                result[key] = value
            } else if let nested = value as? [String: Any], let baseNested = base[key] as? [String: Any] {
                result[key] = try merge(nested, into: baseNested, path: keyPath, source: source)
            } else if base[key] != nil {
                result[key] = value
            } else {
                throw ConfigError(message: "\(source): unknown setting '\(keyPath)'")
            }
        }
        return result
    }
}
