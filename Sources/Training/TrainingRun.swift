import Dataset
import Engine
import Foundation
import ImageIO
import Metrics
import Model
import SafeIO

/// Drives a trainer to the end of its schedule: ticks, progress, sample grids, the metrics log, TensorBoard
/// events and checkpoints. Only the leader (rank 0) writes files or prints; every rank trains.
public final class TrainingRun {
    public let trainer: Trainer
    public let directory: RunDirectory
    let isLeader: Bool
    let console: Console
    let stopRequested: () -> Bool
    private let gridLatents: Tensor
    private var tick = 0
    private var tensorBoard: TensorBoardWriter?
    /// How often a terminal's status line is redrawn between ticks.
    private static let statusInterval: UInt64 = 250_000_000
    /// The fixed real images' SWD descriptors, by resolution: computed once each.
    private var realMetricSets: [Int: MetricSet] = [:]

    /// How a run ended.
    public enum Outcome: Equatable {
        case finished
        /// Stopped early on request, after writing a checkpoint at this step.
        case stopped(step: Int)
    }

    public init(trainer: Trainer, directory: RunDirectory, isLeader: Bool, console: Console,
                stopRequested: @escaping () -> Bool = { false }) {
        self.trainer = trainer
        self.directory = directory
        self.isLeader = isLeader
        self.console = console
        self.stopRequested = stopRequested
        let config = trainer.config
        gridLatents = RandomStreams(seed: config.seed).gridLatents(count: config.gridSamples, width: config.network.latent)
    }

    private var gridColumns: Int { gridColumnCount(trainer.config.gridSamples) }

    @discardableResult
    public func run() throws -> Outcome {
        let config = trainer.config
        let tickImages = Int((config.tickKimg * 1000).rounded())
        // A resumed run continues the tick numbering, so sample grids and metrics line up with the past.
        tick = trainer.progress.imagesShown / tickImages
        if isLeader {
            try directory.create()
            try AtomicFile.write(to: directory.configPath, bytes: Array(config.encoded()))
            try directory.truncateMetrics(afterStep: trainer.progress.step)
            directory.removeCheckpoints(after: trainer.progress.step)
            try writeRealsGrid()
            tensorBoard = try TensorBoardWriter(directory: directory.tensorBoardPath, resumingAt: trainer.progress.imagesShown)
            console.line("training to \(config.network.resolution)x\(config.network.resolution) for \(formatKimg(config.schedule.totalKimg)) kimg; "
                  + "samples in \(directory.samplesPath)")
        }
        var tickStart = DispatchTime.now().uptimeNanoseconds, tickStartImages = trainer.progress.imagesShown
        var statusShown = tickStart
        var sums: [String: Double] = [:], order: [String] = [], steps = 0
        while trainer.progress.imagesShown < trainer.totalImages {
            if try trainer.leaderDecidesToStop(stopRequested()) {
                if isLeader {
                    let path = directory.checkpointPath(step: trainer.progress.step)
                    try trainer.checkpoint().write(to: path)
                    directory.pruneCheckpoints(keep: config.keepCheckpoints)
                    console.line("stopped on request after step \(trainer.progress.step); checkpoint \(path); the same command resumes")
                }
                return .stopped(step: trainer.progress.step)
            }
            let before = trainer.progress.imagesShown
            for (name, value) in try trainer.step() {
                if sums[name] == nil { order.append(name) }
                sums[name, default: 0] += Double(value)
            }
            steps += 1
            let shown = trainer.progress.imagesShown
            let finished = shown >= trainer.totalImages
            let now = DispatchTime.now().uptimeNanoseconds
            let seconds = Double(now - tickStart) / 1e9
            let rate = Double(shown - tickStartImages) / max(seconds, 1e-9)
            let means = order.map { ($0, sums[$0]! / Double(steps)) }
            guard shown / tickImages != before / tickImages || finished else {
                if isLeader && console.isTerminal && now - statusShown >= Self.statusInterval {
                    console.status(progressLine(tick: tick + 1, means: means, imagesPerSecond: rate))
                    statusShown = now
                }
                continue
            }
            try endTick(means: means, seconds: seconds, imagesPerSecond: rate, final: finished)
            sums = [:]
            order = []
            steps = 0
            tickStart = DispatchTime.now().uptimeNanoseconds
            tickStartImages = shown
        }
        if isLeader {
            try trainer.checkpoint().write(to: directory.finalCheckpointPath)
            console.line("done: \(trainer.progress.step) steps, \(formatKimg(Double(trainer.progress.imagesShown) / 1000)) kimg; "
                  + "final networks in \(directory.finalCheckpointPath)")
        }
        return .finished
    }

    private func endTick(means: [(String, Double)], seconds: Double, imagesPerSecond: Double, final: Bool) throws {
        tick += 1
        guard isLeader else { return }
        let progress = trainer.progress, point = trainer.schedule, config = trainer.config
        let gridPath = directory.samplePath(tick: tick)
        let grid = imageGrid(trainer.generateAveraged(latents: gridLatents), columns: gridColumns, cellSize: config.network.resolution)
        try grid.write(path: gridPath)
        if tick % config.checkpointTicks == 0 || final {
            try trainer.checkpoint().write(to: directory.checkpointPath(step: progress.step))
            directory.pruneCheckpoints(keep: config.keepCheckpoints)
        }
        let kimg = Double(progress.imagesShown) / 1000
        var record: [(String, String)] = [
            ("tick", String(tick)), ("step", String(progress.step)), ("kimg", String(format: "%.3f", kimg)),
            ("resolution", String(point.resolution)), ("phase", "\"\(point.phase.rawValue)\""),
            ("alpha", String(format: "%.4f", point.alpha)), ("minibatch", String(point.minibatch)),
            ("learning_rate", String(point.learningRate)),
        ]
        record += means.map { ($0.0, jsonNumber($0.1, format: "%.6g")) }
        if config.swdTicks > 0, tick % config.swdTicks == 0 || final, point.resolution >= SlicedWasserstein.smallestLevel {
            let metrics = measureGenerator(resolution: point.resolution)
            record += metrics.map { ($0.0, jsonNumber($0.1, format: "%.4f")) }
            console.line("tick \(tick)  " + metrics.map { "\($0.0) \(String(format: $0.0.hasPrefix("swd") ? "%.2f" : "%.4f", $0.1))" }.joined(separator: "  "))
        }
        record += [("skipped_updates", String(trainer.skippedUpdates)), ("images_per_second", String(format: "%.2f", imagesPerSecond)), ("tick_seconds", String(format: "%.3f", seconds)),
                   ("peak_rss_mib", String(format: "%.1f", TensorMemory.peakResidentMiB)),
                   ("grid", "\"samples/\((gridPath as NSString).lastPathComponent)\"")]
        try directory.appendMetrics("{" + record.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        // Every numeric entry but the axes becomes a scalar, so new metrics reach TensorBoard unasked.
        let axes: Set = ["tick", "step", "kimg"]
        let scalars = record.compactMap { key, value in axes.contains(key) ? nil : Double(value).map { (tag: key, value: $0) } }
        try tensorBoard?.write(step: progress.imagesShown, scalars: scalars, images: [(tag: "samples", image: grid)])
        console.tick(progressLine(tick: tick, means: means, imagesPerSecond: imagesPerSecond))
        // The grid and metric batches leave buffers of sizes no training step asks for.
        TensorMemory.releaseUnused()
    }

    /// `tick 45  kimg 45.0/52.0  32x32 fade-in α=0.63  d_loss -2.3301  g_loss 5.9380  21.0 img/s  ETA 5m34s`
    private func progressLine(tick: Int, means: [(String, Double)], imagesPerSecond: Double) -> String {
        let point = trainer.schedule, config = trainer.config
        let kimg = Double(trainer.progress.imagesShown) / 1000
        let remaining = estimatedSecondsLeft(imagesPerSecond: imagesPerSecond)
        let losses = means.filter { $0.0 == "d_loss" || $0.0 == "g_loss" }.map { "\($0.0) \(String(format: "%.4f", $0.1))" }
        let phase = point.phase == .fadeIn ? "fade-in α=\(String(format: "%.2f", point.alpha))" : "stable"
        return "tick \(tick)  kimg \(formatKimg(kimg))/\(formatKimg(config.schedule.totalKimg))  \(point.resolution)x\(point.resolution) \(phase)  "
            + losses.joined(separator: "  ") + "  \(String(format: "%.1f", imagesPerSecond)) img/s  ETA \(formatDuration(remaining))"
    }

    /// SWD (x1e3, per level and mean) between the averaged generator's images and the reals, and the
    /// MS-SSIM of generated pairs, on `swdImages` fixed latents and real images, so values are comparable
    /// from tick to tick.
    private func measureGenerator(resolution: Int) -> [(String, Double)] {
        let config = trainer.config, count = config.swdImages, batchSize = 32
        // Metric draws get their own seed so they never coincide with the training or grid streams.
        let seed = config.seed ^ 0x5357_445f_4d45_5452
        let swd = SlicedWasserstein(resolution: resolution, seed: seed)
        if realMetricSets[resolution] == nil {
            var reals = MetricSet(swd: swd)
            feed(&reals, positions: 0..<count, batchSize: batchSize) {
                MetricImages.reals(trainer.dataset, positions: $0, resolution: resolution, seed: seed)
            }
            realMetricSets[resolution] = reals
        }
        var generated = MetricSet(swd: swd)
        feed(&generated, positions: 0..<count, batchSize: batchSize) {
            MetricImages.generated(positions: $0, latentSize: config.network.latent, seed: seed, generator: trainer.generateAveraged)
        }
        let distances = swd.distances(realMetricSets[resolution]!.descriptors, generated.descriptors)
        return zip(swd.levels, distances).map { ("swd_\($0.0)", $0.1) }
            + [("swd_mean", distances.reduce(0, +) / Double(distances.count)),
               ("ms_ssim", generated.multiScaleSSIMSum / Double(generated.multiScaleSSIMPairs))]
    }

    /// Time left at the current speed, counting each image at a higher resolution as three at this one
    /// (roughly what a doubling costs here, where D's gradient penalty dominates).
    private func estimatedSecondsLeft(imagesPerSecond: Double) -> Double {
        let config = trainer.config, current = trainer.schedule.resolution
        var images = trainer.progress.imagesShown, weighted = 0.0
        let stride = max(config.schedule.minibatchDefault, 64)
        while images < trainer.totalImages {
            let point = schedulePoint(imagesShown: images, config: config.schedule, finalResolution: config.network.resolution)
            weighted += Double(min(stride, trainer.totalImages - images)) * pow(3, Double(point.resolution.trailingZeroBitCount - current.trailingZeroBitCount))
            images += stride
        }
        return weighted / max(imagesPerSecond, 1e-9)
    }

    private func writeRealsGrid() throws {
        let config = trainer.config, size = config.network.resolution
        let count = min(config.gridSamples, trainer.dataset.count)
        let images = Tensor(zeros: [count, config.network.imageChannels, size, size])
        trainer.dataset.fillBatch(indices: Array(0..<count), resolution: size, mirror: nil, into: images.pointer)
        try imageGrid(images, columns: gridColumns, cellSize: size).write(path: directory.samplesPath + "/reals.png")
    }
}

/// Columns of a sample grid: the first divisor of `count` from its square root up, so that grids are
/// full rectangles (32 samples: 8 x 4; a prime count makes one row).
public func gridColumnCount(_ count: Int) -> Int {
    let root = Int(Double(count).squareRoot().rounded(.up))
    return (root...max(root, count)).first { count % $0 == 0 } ?? root
}

/// JSON has no NaN or infinity; a non-finite mean (the losses of updates that skip_non_finite_steps
/// skipped) is written as null, so that every line of metrics.jsonl stays readable.
func jsonNumber(_ value: Double, format: String) -> String { value.isFinite ? String(format: format, value) : "null" }

func formatKimg(_ kimg: Double) -> String { String(format: kimg < 10 ? "%.2f" : "%.1f", kimg) }

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let total = Int(seconds.rounded())
    return total >= 3600 ? "\(total / 3600)h\(String(format: "%02d", total / 60 % 60))m" : "\(total / 60)m\(String(format: "%02d", total % 60))s"
}
