import Model

/// Named starting configurations; each is a small change to the defaults (the official implementation's).
public enum Preset: String, CaseIterable, Sendable {
    case tiny, cpu, paper
    case paper8 = "paper-8"

    public var config: TrainingConfig {
        switch self {
        case .tiny: return .tiny
        case .cpu: return .cpu
        case .paper: return .paper
        case .paper8: return .paper8
        }
    }
}

extension TrainingConfig {
    /// The official CelebA-HQ configuration (config.py, train.py): 1024x1024, 600 + 600 kimg per
    /// resolution, the single-GPU minibatch table, learning rate 0.001 (0.0015 at 1024), Adam (0, 0.99),
    /// EMA 0.999, mirror augmentation.
    public static let paper = TrainingConfig()

    /// `paper` with the official 8-GPU schedule (tkarras/progressive_growing_of_gans config.py,
    /// `preset-v2-8gpus`: minibatch_base 32, minibatch_dict {4: 512, 8: 256, 16: 128, 32: 64, 64: 32},
    /// G/D lrate_dict {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}, 12000 kimg). The minibatches are
    /// global: on any number of ranks the run is the same, 8 ranks give each 4 images at 1024x1024 as
    /// the 8 GPUs had.
    public static let paper8 = paper.with {
        $0.schedule.minibatch = [4: 512, 8: 256, 16: 128, 32: 64, 64: 32]
        $0.schedule.minibatchDefault = 32
        $0.schedule.learningRate = [128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003]
    }

    /// Sized for a 2-core CPU: 32x32 with at most 64 feature maps (fmap_base 1024), 8 kimg per phase and
    /// 4 kimg of stabilization at 32x32: 15.4 minutes on two ranks here (32x32 runs at ~21 images/s).
    /// The learning rate, 0.002, lies between the paper's 0.001 and pro_gan_pytorch's default 0.003; it
    /// was not tuned further. The EMA half-life of 2 kimg with a 10% ramp-up keeps the averaged G from
    /// holding on to its random start over such a short run.
    public static let cpu = paper.with {
        $0.network = NetworkConfig(resolution: 32, fmapBase: 1024, fmapMax: 64, latentSize: 128)
        $0.schedule = ScheduleConfig(stabilizeKimg: 8, fadeKimg: 8, minibatchDefault: 16, learningRateDefault: 0.002)
        $0.ema = TrainingRecipe.EMAConfig(beta: 0.999, halfLifeKimg: 2, rampup: 0.1)
        $0.totalKimg = 52
        $0.tickKimg = 1
        $0.checkpointTicks = 5
        // The report's quality curve: every 4th tick from 16x16 on, 256 images (about 3 CPU-seconds at 32x32
        // on rank 0 while the others wait: 2-3% of the run).
        $0.swdTicks = 4
    }

    /// For tests: 4 -> 16 in under two thousand images with a few feature maps.
    public static let tiny = paper.with {
        $0.network = NetworkConfig(resolution: 16, fmapBase: 64, fmapMax: 16, latentSize: 16)
        $0.schedule = ScheduleConfig(stabilizeKimg: 0.2, fadeKimg: 0.2, minibatchDefault: 8, learningRateDefault: 0.002)
        $0.ema = TrainingRecipe.EMAConfig(beta: 0.999, halfLifeKimg: 0.1, rampup: nil)
        // Micro-batches of 4 (not the deterministic default, the whole minibatch of 8), so that the
        // multi-rank tests and checks give every rank of 2 a share to compute.
        $0.microbatch = 4
        $0.mirror = false
        $0.seed = 1
        $0.totalKimg = 1.2
        $0.tickKimg = 0.1
        $0.checkpointTicks = 4
        $0.keepCheckpoints = 2
        $0.gridSamples = 8
        $0.consistencyCheckSteps = 10
    }

    /// A copy with `change` applied: how presets and tests derive one configuration from another.
    public func with(_ change: (inout TrainingConfig) -> Void) -> TrainingConfig {
        var copy = self
        change(&copy)
        return copy
    }
}
