import ArgumentParser
import Foundation
import Model
import Training

/// The settings `progan train` takes as flags. Each lands in the configuration through `overrides`, the
/// one table from flag to setting; config.json records the result, so `--config RUN/config.json`
/// reproduces a run whatever flags started it.
public struct TrainingFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Random seed (weights, latents, data order).", valueName: "n"))
    var seed: UInt64?

    @Option(
        name: .customLong("total-kimg"),
        help: ArgumentHelp("Length of the run in thousands of images.", valueName: "kimg"))
    public var totalKimg: Double?

    @Option(
        help: ArgumentHelp(
            "Loss: \(LossKind.allCases.map(\.rawValue).joined(separator: ", ")).",
            valueName: "name"))
    var loss: LossKind?

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Train class-conditionally on the dataset's labels: an auxiliary classifier in D, as the official "
                + "code (AC-GAN), unless --conditional-kind says otherwise (preset: off)."))
    var conditional: Bool?

    @Option(
        name: .customLong("conditional-kind"),
        help: ArgumentHelp(
            "How D is conditioned (implies --conditional): acgan (official ProGAN), or projection "
                + "(Miyato & Koyama 2018).", valueName: "acgan|projection"))
    var conditionalKind: ConditioningKind?

    @Option(
        name: .customLong("stabilize-kimg"),
        help: ArgumentHelp("Thousands of images per resolution with the block in place.", valueName: "kimg"))
    var stabilizeKimg: Double?

    @Option(name: .customLong("fade-kimg"), help: ArgumentHelp("Thousands of images per fade-in.", valueName: "kimg"))
    var fadeKimg: Double?

    @Option(help: ArgumentHelp("Global minibatch at every resolution (replaces the preset's table).", valueName: "n"))
    var minibatch: Int?

    @Option(
        name: .customLong("learning-rate"),
        help: ArgumentHelp(
            "Learning rate at every resolution (replaces the preset's table; the cpu preset's ramp-down still "
                + "scales it).", valueName: "rate"))
    var learningRate: Float?

    @Option(
        help: ArgumentHelp(
            "Images per forward/backward pass (a multiple of the minibatch-stddev group size).",
            valueName: "n"))
    var microbatch: Int?

    @Flag(
        inversion: .prefixedNo,
        help: "Reduce gradients exactly, so any number of ranks gives the same bits (preset: on).")
    var deterministic: Bool?

    @Flag(
        name: .customLong("minibatch-per-rank"), inversion: .prefixedNo,
        help: ArgumentHelp(
            "Read the minibatch table per rank: the global minibatch grows with the ranks, and runs on "
                + "different numbers of ranks differ (preset: off)."))
    var minibatchPerRank: Bool?

    @Flag(inversion: .prefixedNo, help: "Flip real images horizontally at random (paper presets: on; cpu, tiny: off).")
    var mirror: Bool?

    @Flag(
        name: .customLong("skip-non-finite-steps"), inversion: .prefixedNo,
        help: "Skip and count an update whose loss or gradient is not finite, instead of stopping (preset: off).")
    var skipNonFiniteSteps: Bool?

    @Option(
        name: .customLong("tick-kimg"),
        help: ArgumentHelp("Thousands of images between progress lines and sample grids.", valueName: "kimg"))
    var tickKimg: Double?

    @Option(
        name: .customLong("checkpoint-ticks"),
        help: ArgumentHelp("Ticks between checkpoints (one is also written at the end).", valueName: "n"))
    var checkpointTicks: Int?

    @Option(
        name: .customLong("checkpoint-minutes"),
        help: ArgumentHelp(
            "Also a checkpoint after this many minutes since the last one, written in the background (0: off).",
            valueName: "m"))
    var checkpointMinutes: Double?

    @Option(
        name: .customLong("keep-checkpoints"),
        help: ArgumentHelp("Step checkpoints kept in the run directory; older ones are deleted.", valueName: "n"))
    var keepCheckpoints: Int?

    @Option(
        name: .customLong("grid-samples"),
        help: ArgumentHelp("Samples in each tick's grid, from fixed latents.", valueName: "n"))
    var gridSamples: Int?

    @Option(
        name: .customLong("swd-ticks"),
        help: ArgumentHelp("Measure SWD against the reals every this many ticks (0: never).", valueName: "n"))
    var swdTicks: Int?

    @Option(
        name: .customLong("swd-images"),
        help: ArgumentHelp("Generated and real images per in-training SWD measurement.", valueName: "n"))
    var swdImages: Int?

    @Flag(
        name: .customLong("fid"), inversion: .prefixedNo,
        help: "Measure FID against the reals every --fid-ticks ticks and at the end (needs the Inception weights).")
    var fid: Bool?

    @Flag(
        name: .customLong("kid"), inversion: .prefixedNo,
        help: "Measure KID against the reals with FID's schedule and images (needs the Inception weights).")
    var kid: Bool?

    @Option(
        name: .customLong("fid-ticks"),
        help: ArgumentHelp("Measure FID/KID every this many ticks (0: at the end of the run only).", valueName: "n"))
    var fidTicks: Int?

    @Option(
        name: .customLong("fid-images"),
        help: ArgumentHelp("Generated and real images per in-training FID/KID measurement.", valueName: "n"))
    var fidImages: Int?

    @Option(
        name: .customLong("collective-timeout"),
        help: ArgumentHelp(
            "Seconds a rank waits in one collective before the job ends, naming the ranks that did not arrive.",
            valueName: "s"))
    var collectiveTimeout: Double?

    @Option(
        help: ArgumentHelp(
            "Engine threads per rank (default: the cores the rank is bound to); results do not depend on it.",
            valueName: "n"))
    var threads: Int?

    public init() {}

    /// Every flag given, as a change to the configuration.
    public var overrides: [ConfigOverride] {
        let table: [ConfigOverride?] = [
            ConfigOverride(flag: "--seed", seed) { $0.seed = $1 },
            ConfigOverride(flag: "--total-kimg", totalKimg) { $0.totalKimg = $1 },
            ConfigOverride(flag: "--loss", loss) { $0.loss.kind = $1 },
            ConfigOverride(flag: "--conditional", conditional) {
                $0.network.conditioning = $1 ? $0.network.conditioning ?? Conditioning(kind: .acgan) : nil
            },
            ConfigOverride(flag: "--conditional-kind", conditionalKind) {
                var conditioning = $0.network.conditioning ?? Conditioning(kind: $1)
                conditioning.kind = $1
                $0.network.conditioning = conditioning
            },
            ConfigOverride(flag: "--stabilize-kimg", stabilizeKimg) { $0.schedule.stabilizeKimg = $1 },
            ConfigOverride(flag: "--fade-kimg", fadeKimg) { $0.schedule.fadeKimg = $1 },
            ConfigOverride(flag: "--minibatch", minibatch) {
                $0.schedule.minibatch = [:]
                $0.schedule.minibatchDefault = $1
            },
            ConfigOverride(flag: "--learning-rate", learningRate) {
                $0.schedule.learningRate = [:]
                $0.schedule.learningRateDefault = $1
            },
            ConfigOverride(flag: "--microbatch", microbatch) { $0.microbatch = $1 },
            ConfigOverride(flag: "--deterministic", deterministic) { $0.deterministic = $1 },
            ConfigOverride(flag: "--minibatch-per-rank", minibatchPerRank) { $0.minibatchPerRank = $1 },
            ConfigOverride(flag: "--mirror", mirror) { $0.mirror = $1 },
            ConfigOverride(flag: "--skip-non-finite-steps", skipNonFiniteSteps) { $0.skipNonFiniteSteps = $1 },
            ConfigOverride(flag: "--tick-kimg", tickKimg) { $0.tickKimg = $1 },
            ConfigOverride(flag: "--checkpoint-ticks", checkpointTicks) { $0.checkpointTicks = $1 },
            ConfigOverride(flag: "--checkpoint-minutes", checkpointMinutes) { $0.checkpointMinutes = $1 },
            ConfigOverride(flag: "--keep-checkpoints", keepCheckpoints) { $0.keepCheckpoints = $1 },
            ConfigOverride(flag: "--grid-samples", gridSamples) { $0.gridSamples = $1 },
            ConfigOverride(flag: "--swd-ticks", swdTicks) { $0.swdTicks = $1 },
            ConfigOverride(flag: "--swd-images", swdImages) { $0.swdImages = $1 },
            ConfigOverride(flag: "--fid", fid) { $0.fid = $1 },
            ConfigOverride(flag: "--kid", kid) { $0.kid = $1 },
            ConfigOverride(flag: "--fid-ticks", fidTicks) { $0.fidTicks = $1 },
            ConfigOverride(flag: "--fid-images", fidImages) { $0.fidImages = $1 },
            ConfigOverride(flag: "--collective-timeout", collectiveTimeout) { $0.collectiveTimeoutSeconds = $1 },
            ConfigOverride(flag: "--threads", threads) { $0.threads = $1 },
        ]
        return table.compactMap { $0 }
    }
}

/// Where `progan train` starts from.
public enum ResumeChoice: Equatable, ExpressibleByArgument {
    /// The newest usable checkpoint in the run directory, if any.
    case auto
    /// A fresh start, whatever the run directory holds.
    case none
    case checkpoint(path: String)

    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "none": self = .none
        case "": return nil
        default: self = .checkpoint(path: argument)
        }
    }

    /// Fails for a path that does not exist but is a keyword in other letter case (`Auto`), which is
    /// surely the keyword misspelled.
    public func rejectMisspelledKeyword() throws {
        guard case .checkpoint(let path) = self, !FileManager.default.fileExists(atPath: path),
            let keyword = ["auto", "none"].first(where: { $0 == path.lowercased() })
        else { return }
        throw ValidationError("--resume \(path): no such checkpoint; did you mean --resume \(keyword)?")
    }

    public var defaultValueDescription: String {
        switch self {
        case .auto: "auto"
        case .none: "none"
        case .checkpoint(let path): path
        }
    }
}
