import Foundation
import Model
import SafeIO

/// Everything that determines a run, in two parts: the recipe, which determines the trained weights
/// (a checkpoint resumes only under an equal recipe, and its hash names the run), and the run settings,
/// which say how long to train and what to report (free to change on resume).
///
/// Saved as one flat JSON object (`config.json`, snake_case keys); `--config` accepts such a file back.
/// Both parts' fields read and write as if they were the configuration's own (`config.seed`,
/// `config.tickKimg`), through dynamic member lookup.
@dynamicMemberLookup
public struct TrainingConfig: Equatable, Sendable {
    public var recipe: TrainingRecipe
    public var run: RunSettings

    public init(recipe: TrainingRecipe = TrainingRecipe(), run: RunSettings = RunSettings()) {
        self.recipe = recipe
        self.run = run
    }

    public subscript<Value>(dynamicMember path: WritableKeyPath<TrainingRecipe, Value>) -> Value {
        get { recipe[keyPath: path] }
        set { recipe[keyPath: path] = newValue }
    }

    public subscript<Value>(dynamicMember path: WritableKeyPath<RunSettings, Value>) -> Value {
        get { run[keyPath: path] }
        set { run[keyPath: path] = newValue }
    }

    public var totalImages: Int { wholeImages(kimg: run.totalKimg) }
}

/// What determines the trained weights. The defaults are the official implementation's (config.py,
/// train.py) for CelebA-HQ at 1024x1024, i.e. the `paper` preset.
public struct TrainingRecipe: Codable, Equatable, Sendable {
    public var network = NetworkConfig(resolution: 1024)
    /// The official single-GPU minibatch table, learning rate 0.001 (0.0015 at 1024).
    public var schedule = ScheduleConfig(
        stabilizeKimg: 600, fadeKimg: 600,
        minibatch: [4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4], minibatchDefault: 4,
        learningRate: [1024: 0.0015], learningRateDefault: 0.001)
    public var loss = LossConfig()
    public var adam = AdamConfig(beta1: 0, beta2: 0.99, epsilon: 1e-8)
    public var ema = EMAConfig(beta: 0.999, halfLifeKimg: nil, rampup: nil)
    /// Forget Adam's moments when a resolution is added (official `reset_opt_for_new_lod`).
    public var resetOptimizerOnGrowth = true
    /// Random horizontal flips of real images.
    public var mirror = true
    public var seed: UInt64 = 1000
    /// Reduce gradients exactly (fixed point), so that a run gives the same bits on any number of ranks.
    public var deterministic = true
    /// Images per forward/backward pass (at most the minibatch). Deterministic runs need a size that does
    /// not depend on the number of ranks; nil means up to 8 images (fewer past 32x32), in fast mode also
    /// at most each rank's share of the minibatch (`microbatchSize(minibatch:ranks:resolution:)`).
    @WrittenAsNull public var microbatch: Int?
    /// Read the schedule's minibatch table per rank: the global minibatch is the table's value times the
    /// number of ranks (StyleGAN2-ADA's `--batch-gpu` idea, without scaling the learning rate). A run then
    /// gives different weights on different numbers of ranks. Unset (nil, as in files written before
    /// it existed) means false.
    @WrittenAsNull public var minibatchPerRank: Bool?
    /// On a non-finite loss or gradient, skip that update and count it instead of stopping the run.
    public var skipNonFiniteSteps = false
    /// Gradient values per allreduce bucket; buckets start reducing during the backward pass. Part of
    /// the recipe because in fast mode the bucketing decides the order of float additions.
    public var bucketValues = 1 << 18

    public init() {}

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
        @WrittenAsNull public var halfLifeKimg: Double?
        /// Caps the half-life at this fraction of the images shown so far, so early samples are not
        /// dominated by the initial weights (StyleGAN2-ADA's `ema_rampup`).
        @WrittenAsNull public var rampup: Double?

        /// The decay for one step of `minibatch` images after `imagesShown` images.
        public func beta(minibatch: Int, imagesShown: Int) -> Double {
            guard var halfLife = halfLifeKimg.map({ $0 * 1000 }) else { return beta }
            if let rampup { halfLife = min(halfLife, Double(imagesShown) * rampup) }
            return halfLife > 0 ? pow(0.5, Double(minibatch) / halfLife) : 0
        }
    }
}

/// How long a run trains and what it reports; none of it changes the weights.
public struct RunSettings: Codable, Equatable, Sendable {
    /// Length of the whole run in thousands of images; the final resolution trains until then.
    public var totalKimg: Double = 12000
    /// Progress lines, sample grids and metrics are written every `tickKimg` thousand images.
    public var tickKimg: Double = 160
    /// A checkpoint every this many ticks (and at the end).
    public var checkpointTicks = 10
    /// Also a checkpoint whenever this many minutes of wall-clock time have passed since the last one,
    /// whichever comes first (0: by ticks only). Written in the background while training goes on.
    public var checkpointMinutes = 0.0
    /// Checkpoints kept in the run directory; older ones are deleted.
    public var keepCheckpoints = 3
    /// Samples in each grid, drawn from fixed latents so the grids form a time-lapse.
    public var gridSamples = 32
    /// Every this many steps the ranks compare a hash of their counters and weights, and stop with a
    /// message if any replica has drifted.
    public var consistencyCheckSteps = 100
    /// Every this many ticks rank 0 measures the sliced Wasserstein distance between `swdImages` fixed
    /// generated and real images and logs it (0: never; it costs about a second per 256 images at 32x32).
    public var swdTicks = 0
    public var swdImages = 256
    /// FID and KID (`fid`, `kid`) between `fidImages` generated and real images, measured by all ranks
    /// together every `fidTicks` ticks and at the end of the run (`fidTicks` 0: at the end only). Needs the
    /// Inception weights (scripts/torch/install-inception.sh); about a second of one core per image.
    public var fid = false
    public var kid = false
    public var fidTicks = 0
    public var fidImages = 1000
    /// Engine threads per rank; nil: as many as the cores the rank is bound to. Results do not depend
    /// on it (the engine cuts work into blocks fixed by the shapes), so it is not part of the recipe,
    /// and checkpoints leave it out (`layoutFree`).
    @WrittenAsNull public var threads: Int?
    /// Seconds a rank waits in one collective before the job ends with a message naming the ranks that
    /// did not arrive (a rank stopped, hung or dead). Generous: rank 0 alone writes checkpoints, grids
    /// and metrics while the others wait.
    public var collectiveTimeoutSeconds = 600.0

    public init() {}
}

extension TrainingConfig {
    /// The configuration as checkpoints record it: without the threads per rank, which, like the number
    /// of ranks, describe where the run trains, not what, so that every layout writes the same bytes.
    public var layoutFree: TrainingConfig { with { $0.threads = nil } }

    /// Checks the whole configuration for a run on `worldSize` ranks, phase by phase; the error says which
    /// setting is wrong and why (and at which resolution).
    public func validate(worldSize: Int = 1) throws {
        try recipe.validate()
        try run.validate()
        guard worldSize > 0 else { throw ConfigError(message: "world size \(worldSize) must be positive") }
        _ = try phaseLayouts(ranks: worldSize)
    }
}

extension TrainingRecipe {
    func validate() throws {
        try network.validate()
        try schedule.validate()
        try loss.validate()
        try requireRange("adam.beta1", adam.beta1, 0...0.9999)
        try requireRange("adam.beta2", adam.beta2, 0...0.999999)
        try requirePositive("adam.epsilon", adam.epsilon, atMost: 1)
        try requireRange("ema.beta", ema.beta, 0...0.999999)
        if let halfLife = ema.halfLifeKimg { try requireRange("ema.half_life_kimg", halfLife, 0...ConfigLimits.kimg) }
        if let rampup = ema.rampup { try requireRange("ema.rampup", rampup, 0...1e6) }
        if let microbatch { try requireRange("microbatch", microbatch, 1...ConfigLimits.batch) }
        try requireRange("bucket_values", bucketValues, 1...(1 << 30))
    }
}

extension RunSettings {
    /// A year: anything longer is a typo.
    static let maximumCheckpointMinutes = 525_600.0
    public static let longestCollectiveTimeout = 7 * 24 * 3600.0
    /// More threads per rank than any machine has cores is a typo.
    public static let threadLimit = 4096

    func validate() throws {
        try requirePositive("total_kimg", totalKimg, atMost: ConfigLimits.kimg)
        try requireRange("tick_kimg", tickKimg, 0.001...ConfigLimits.kimg)
        try requireRange("checkpoint_ticks", checkpointTicks, 1...Self.countLimit)
        try requireRange("keep_checkpoints", keepCheckpoints, 1...Self.countLimit)
        try requireRange("grid_samples", gridSamples, 1...ConfigLimits.batch)
        try requireRange("consistency_check_steps", consistencyCheckSteps, 1...Self.countLimit)
        try requireRange("swd_ticks", swdTicks, 0...Self.countLimit)
        try requireRange("swd_images", swdImages, 2...ConfigLimits.batch)
        guard swdImages % 2 == 0 else { throw ConfigError(message: "swd_images \(swdImages) must be even") }
        try requireRange("fid_ticks", fidTicks, 0...Self.countLimit)
        try requireRange("fid_images", fidImages, 2...ConfigLimits.batch)
        guard (0...Self.maximumCheckpointMinutes).contains(checkpointMinutes) else {
            throw ConfigError(
                message: "checkpoint_minutes \(checkpointMinutes) must be from 0 (off) to "
                    + "\(Int(Self.maximumCheckpointMinutes))")
        }
        if let threads { try requireRange("threads", threads, 1...RunSettings.threadLimit) }
        guard (1...RunSettings.longestCollectiveTimeout).contains(collectiveTimeoutSeconds) else {
            throw ConfigError(
                message: "collective_timeout_seconds \(collectiveTimeoutSeconds) must be between 1 and "
                    + "\(Int(RunSettings.longestCollectiveTimeout)) (a week)")
        }
    }

    /// The most ticks, steps or checkpoints a count setting may name.
    static let countLimit = 1_000_000
}
