import Dataset
import Distributed
import Engine
import Foundation
import ImageIO
import Metrics
import Model
import SafeIO

/// Drives a trainer to the end of its schedule in lock step with the other replicas: ticks, progress,
/// sample grids, the metrics log, TensorBoard events and checkpoints. Only the leader (rank 0) writes
/// files or prints; every rank trains.
public final class TrainingRun {
    public let trainer: Trainer
    public let group: ReplicaGroup
    public let directory: RunDirectory
    let console: Console
    let stopRequested: () -> Bool
    let job: SchedulerJob?
    private let gridLayout: SampleGridLayout
    private var tick = 0
    private var tensorBoard: TensorBoardWriter?
    /// How often a terminal's status line is redrawn between ticks.
    private static let statusInterval: UInt64 = 250_000_000
    private lazy var generatorQuality = GeneratorQuality(
        images: config.swdImages, trainingSeed: config.seed, latentSize: config.network.latent)
    /// The network of `fid` / `kid` (nil when neither is on), and the reals' features by resolution.
    private let inception: InceptionFeatures?
    /// The costs timed before the run started, given (for `--fit-minutes`) or measured by `probeCosts`.
    private var probe: CostProbe?
    /// What the final FID/KID adds to the last tick, as the probe timed it.
    private var endOfRunSeconds = 0.0
    /// `--fit-minutes`: the training time the run's length is kept fitted to, from the first step on.
    private let fitMinutes: Double?
    private var realInceptionFeatures: [Int: [Float]] = [:]
    private lazy var checkpoints = CheckpointWriter { [directory, config] in
        directory.pruneCheckpoints(keep: config.keepCheckpoints)
    }
    /// When the last checkpoint was taken, for `checkpoint_minutes`.
    private var lastCheckpoint = DispatchTime.now().uptimeNanoseconds
    /// Time spent copying checkpoints in the tick in progress (nil: none taken).
    private var checkpointPause: Double?
    /// Wall-clock time by resolution, for the time left; counted from `lastMark` on.
    private lazy var throughput = ThroughputHistory(tickEndWindow: 2 * config.checkpointTicks)
    private var lastMark = DispatchTime.now().uptimeNanoseconds
    /// When the last metrics line was written (or the run started), for its `wall_seconds`.
    private var lastRecord = DispatchTime.now().uptimeNanoseconds
    private lazy var remainingTime = RemainingTime(config: config, cores: cores)
    private var cores: Int { group.collective.size * ThreadPool.threads }

    /// How a run ended.
    public enum Outcome: Equatable {
        case finished
        /// Stopped early on request (any rank's), after writing a checkpoint at this step.
        case stopped(step: Int)
    }

    /// `stopRequested` tells whether this process was asked to stop; it is asked before each of D's
    /// micro-batches, and the answers of all ranks are combined. `probe`: this rank's costs as
    /// `CostProbe.measure` timed them from the resolution the run starts at, if already timed.
    /// `fitMinutes`: keep moving the run's end (its `total_kimg`) so that training ends about this long
    /// after its first step (see `refitLength`).
    public init(
        trainer: Trainer, group: ReplicaGroup, directory: RunDirectory, console: Console,
        stopRequested: @escaping () -> Bool = { false }, job: SchedulerJob? = nil, inception: InceptionFeatures? = nil,
        probe: CostProbe? = nil, fitMinutes: Double? = nil
    ) {
        (self.trainer, self.group, self.directory, self.console) = (trainer, group, directory, console)
        (self.inception, self.probe, self.fitMinutes) = (inception, probe, fitMinutes)
        (self.stopRequested, self.job) = (stopRequested, job)
        let config = trainer.config
        self.config = config
        gridLayout = SampleGridLayout(
            gridLatents: RandomStreams(seed: config.seed).gridLatents(
                count: config.gridSamples, width: config.network.latent),
            conditioning: config.network.conditioning)
    }

    /// The trainer's configuration, but for the length, which `--fit-minutes` may move: a run setting, so
    /// the weights' recipe stays the same.
    private var config: TrainingConfig
    private var isLeader: Bool { group.isLeader }

    @discardableResult
    public func run() throws -> Outcome {
        let tickImages = max(wholeImages(kimg: config.tickKimg), 1)
        // A resumed run continues the tick numbering, so sample grids and metrics line up with the past.
        tick = trainer.progress.imagesShown / tickImages
        if isLeader { try prepareDirectory() }
        if trainer.progress.imagesShown < config.totalImages { try probeCosts() }
        var window = TickWindow(start: trainer.progress.imagesShown)
        let started = DispatchTime.now().uptimeNanoseconds
        var statusShown = started
        (lastMark, lastRecord) = (started, started)
        while trainer.progress.imagesShown < config.totalImages {
            let before = trainer.progress.imagesShown, resolution = trainer.schedule.resolution
            guard let log = try step() else { return try stopOnRequest() }
            let shown = trainer.progress.imagesShown, finished = shown >= config.totalImages
            markTime(resolution: resolution, images: shown - before)
            let endsTick = shown / tickImages != before / tickImages || finished
            window.add(log, imagesShown: shown)
            if isLeader {
                try reportWritten(checkpoints.collect())
                if !endsTick && wallClockCheckpointIsDue { try startCheckpointWithNotice() }
            }
            let now = DispatchTime.now().uptimeNanoseconds
            guard endsTick else {
                if isLeader && console.isTerminal && now - statusShown >= Self.statusInterval {
                    let secondsLeft = remainingTime.secondsLeft(imagesShown: shown, history: throughput)
                    console.status(
                        progressLine(tick: tick + 1, window: window, imagesShown: shown, secondsLeft: secondsLeft))
                    statusShown = now
                }
                continue
            }
            try endTick(window, final: finished)
            if let fitMinutes, !finished { try refitLength(started: started, minutes: fitMinutes) }
            window = TickWindow(start: shown)
        }
        if isLeader {
            try reportWritten(checkpoints.finish())
            try trainer.checkpoint().write(to: directory.finalCheckpointPath)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            console.line(
                "done: \(trainer.progress.step) steps, "
                    + "\(formatKimg(Double(trainer.progress.imagesShown) / 1000)) kimg in \(formatDuration(seconds)); "
                    + "final networks in \(directory.finalCheckpointPath)")
        }
        return .finished
    }

    /// One training step, taken in lock step by every replica; nil when a rank asked to stop before
    /// any update of the step (the step is then abandoned, and taken again on resume).
    private func step() throws -> StepLog? {
        try group.adoptLeaderCounters(trainer.replica)
        guard let share = try trainer.step(abandon: { try group.anyRankRequestsStop(stopRequested()) }) else {
            return nil
        }
        let log = try group.sum(share)
        if trainer.progress.step % config.consistencyCheckSteps == 0 { try group.verifyAgreement(trainer.replica) }
        return log
    }

    /// Writes the checkpoint of the stop on request (after any write in flight) and says how to resume.
    private func stopOnRequest() throws -> Outcome {
        if isLeader {
            let path = startCheckpoint()
            try reportWritten(checkpoints.finish())
            console.line(
                "stopped on request before step \(trainer.progress.step + 1); checkpoint \(path); "
                    + "the same command resumes")
        }
        return .stopped(step: trainer.progress.step)
    }

    private func prepareDirectory() throws {
        try directory.create()
        try AtomicFile.write(to: directory.configPath, bytes: Array(config.encoded()))
        try directory.truncateMetrics(afterStep: trainer.progress.step)
        let setAside = try directory.setAsideCheckpoints(after: trainer.progress.step)
        if !setAside.isEmpty {
            console.line(
                "moved \(setAside.count) checkpoint(s) of later steps to \(directory.abandonedCheckpointsPath) "
                    + "(this run restarts from step \(trainer.progress.step))")
        }
        try writeRealsGrid()
        tensorBoard = try TensorBoardWriter(
            directory: directory.tensorBoardPath,
            resumingAt: trainer.progress.imagesShown)
        let size = config.network.resolution
        console.line(
            "training to \(size)x\(size) for \(formatKimg(config.totalKimg)) kimg; "
                + "samples in \(directory.samplesPath)")
    }

    /// Times what lies ahead for the ETA (`CostProbe`): each resolution still to train, and the final FID/KID,
    /// whose Inception features every rank computes a share of (the reals' too, unless cached).
    private func probeCosts() throws {
        let (rank, ranks) = (group.collective.rank, group.collective.size)
        // The other ranks wait for rank 0's share of it (the quality metrics) in the first collective.
        let probe =
            try self.probe
            ?? CostProbe.measure(
                config: config, dataset: trainer.dataset, rank: rank, ranks: ranks,
                from: trainer.schedule.resolution, inception: inception,
                budgetSeconds: CostProbe.budgetSeconds(config))
        self.probe = probe
        endOfRunSeconds = probe.finalEvaluationSeconds(config: config, dataset: trainer.dataset, ranks: ranks)
        remainingTime = RemainingTime(config: config, cores: cores, probe: probe, endOfRunSeconds: endOfRunSeconds)
        guard isLeader else { return }
        func milliseconds(_ costs: [Int: Double]) -> String {
            costs.sorted { $0.key < $1.key }.map { "\($0)x\($0) \(String(format: "%.2f", $1 * 1000))" }
                .joined(separator: ", ")
        }
        let quality =
            probe.qualitySecondsPerImage.isEmpty
            ? "" : "; SWD and MS-SSIM \(milliseconds(probe.qualitySecondsPerImage))"
        let features =
            probe.inceptionSecondsPerImage == nil ? "" : "; final FID/KID about \(formatDuration(endOfRunSeconds))"
        console.line("timed for the ETA, ms per image: \(milliseconds(probe.secondsPerImage))\(quality)\(features)")
    }

    /// `--fit-minutes` during the run: machines shared with others change speed by a third over minutes, more
    /// than any fit made before the first step can foresee. So at the end of each tick, once a fifth of the
    /// `minutes` since `started` have passed (before that the run has measured its pace over too short a
    /// time to judge better than the fit), rank 0 fits the length again, to the time left at the pace the
    /// run has measured so far, and moves the end there when that differs by 3% and 2 kimg or more
    /// (smaller moves would only follow the noise). Every rank takes its choice, and config.json records
    /// it, so a resumed run, and `--config` with it, trains the same length. The learning rate's
    /// ramp-down, part of the recipe, stays where it was fitted: a run that turns out slower ends partway
    /// down it, a faster one trains on at its final rate.
    private func refitLength(started: UInt64, minutes: Double) throws {
        var kimg = [config.totalKimg]
        let now = DispatchTime.now().uptimeNanoseconds, deadline = started + UInt64(minutes * 60e9)
        if isLeader && now >= started + UInt64(minutes * 12e9) {
            let fitted = config.refittedKimg(
                imagesShown: trainer.progress.imagesShown, history: throughput, probe: probe ?? CostProbe(),
                cores: cores, endOfRunSeconds: endOfRunSeconds,
                seconds: deadline > now ? Double(deadline - now) / 1e9 : 0)
            if let fitted, abs(fitted - config.totalKimg) >= max(2, 0.03 * config.totalKimg) { kimg[0] = fitted }
        }
        try kimg.withUnsafeMutableBytes { try group.collective.broadcast($0, root: 0) }
        guard kimg[0] != config.totalKimg else { return }
        config.totalKimg = kimg[0]
        remainingTime = RemainingTime(
            config: config, cores: cores, probe: probe ?? CostProbe(), endOfRunSeconds: endOfRunSeconds)
        guard isLeader else { return }
        try AtomicFile.write(to: directory.configPath, bytes: Array(config.encoded()))
        console.line(
            "--fit-minutes: at the pace so far the time left fits \(formatKimg(config.totalKimg)) kimg; "
                + "the run now ends there")
    }

    /// Whether `checkpoint_minutes` have passed since the last checkpoint; a write still in flight defers
    /// the next one rather than stop training to wait for it.
    private var wallClockCheckpointIsDue: Bool {
        config.checkpointMinutes > 0 && !checkpoints.isWriting
            && Double(DispatchTime.now().uptimeNanoseconds - lastCheckpoint) / 60e9 >= config.checkpointMinutes
    }

    /// Copies the replica into a step checkpoint and starts writing it in the background (the older
    /// ones are pruned once it is written); returns its path.
    private func startCheckpoint() -> String {
        let start = DispatchTime.now().uptimeNanoseconds
        let path = directory.checkpointPath(step: trainer.progress.step)
        let checkpoint = trainer.checkpoint()
        lastCheckpoint = DispatchTime.now().uptimeNanoseconds
        checkpointPause = (checkpointPause ?? 0) + Double(lastCheckpoint - start) / 1e9
        checkpoints.start(checkpoint, path: path)
        return path
    }

    private func startCheckpointWithNotice() throws {
        let pauseBefore = checkpointPause ?? 0
        let path = startCheckpoint()
        let pause = (checkpointPause ?? 0) - pauseBefore
        console.line(
            "checkpoint at step \(trainer.progress.step) (\(formatDuration(config.checkpointMinutes * 60)) since the "
                + "last): copied in \(String(format: "%.3f", pause)) s; writing \(path) in the background")
    }

    /// With `checkpoint_minutes`, says when a background write ended and how far training went meanwhile
    /// (without it, checkpoints come with ticks and need no lines of their own).
    private func reportWritten(_ written: [CheckpointWriter.Written]) {
        guard config.checkpointMinutes > 0 else { return }
        for write in written where write.step != trainer.progress.step {
            console.line(
                "checkpoint \(write.path) written in \(String(format: "%.2f", write.seconds)) s while training "
                    + "went on from step \(write.step) to \(trainer.progress.step)")
        }
    }

    /// Adds the time since the last mark to `resolution`'s, with the images trained meanwhile (nil: the time
    /// of a tick's end, which measured SWD and MS-SSIM at `qualityAt`, or nothing).
    private func markTime(resolution: Int?, images: Int = 0, qualityAt: Int? = nil) {
        let now = DispatchTime.now().uptimeNanoseconds, seconds = Double(now - lastMark) / 1e9
        if let resolution {
            throughput.add(resolution: resolution, images: images, seconds: seconds)
        } else {
            throughput.addTickEnd(seconds: seconds, qualityAt: qualityAt)
        }
        lastMark = now
    }

    private func endTick(_ window: TickWindow, final: Bool) throws {
        tick += 1
        // Every rank takes part: the features are computed by all ranks and gathered.
        let inceptionScores = try measureInception(final: final)
        guard isLeader else { return }
        let progress = trainer.progress, point = trainer.schedule
        let gridPath = directory.samplePath(tick: tick)
        let grid = imageGrid(
            trainer.generateAveraged(latents: gridLayout.latents, labels: gridLayout.labels),
            columns: gridLayout.columns,
            cellSize: config.network.resolution)
        try grid.write(path: gridPath)
        if tick % config.checkpointTicks == 0 || final { _ = startCheckpoint() }
        var quality: [String: Double] = [:]
        let measuresQuality = config.measuresQuality(tick: tick, final: final, resolution: point.resolution)
        if measuresQuality {
            let metrics = try generatorQuality.measure(
                resolution: point.resolution, dataset: trainer.dataset, generator: trainer.generateAveraged)
            for (name, value) in metrics { quality[name] = rounded(value, significantDigits: 5) }
            console.line(
                "tick \(tick)  "
                    + metrics.map { name, value in
                        "\(name) \(String(format: name.hasPrefix("swd") ? "%.2f" : "%.4f", value))"
                    }.joined(separator: "  "))
        }
        if !inceptionScores.isEmpty {
            for (name, value) in inceptionScores { quality[name] = rounded(value, significantDigits: 6) }
            console.line(
                "tick \(tick)  "
                    + inceptionScores.map { "\($0.0) \(String(format: $0.0 == "fid" ? "%.3f" : "%.6f", $0.1))" }
                    .joined(separator: "  "))
        }
        var fields = TickRecord.Fields(
            tick: tick, step: progress.step, kimg: Double(progress.imagesShown) / 1000, resolution: point.resolution,
            phase: point.phase, alpha: rounded(Double(point.alpha), significantDigits: 4), minibatch: point.minibatch,
            learningRate: rounded(Double(point.learningRate), significantDigits: 6),
            skippedUpdates: trainer.skippedUpdates,
            imagesPerSecond: rounded(window.imagesPerSecond, significantDigits: 4),
            tickSeconds: rounded(window.seconds, significantDigits: 6),
            peakResidentMiB: rounded(TensorMemory.peakResidentMiB, significantDigits: 5),
            grid: "samples/\((gridPath as NSString).lastPathComponent)")
        fields.checkpointPauseSeconds = checkpointPause.map { rounded($0, significantDigits: 4) }
        markTime(resolution: nil, qualityAt: measuresQuality ? point.resolution : nil)
        let secondsLeft = remainingTime.secondsLeft(imagesShown: progress.imagesShown, history: throughput)
        fields.etaSeconds = secondsLeft.map { rounded($0, significantDigits: 4) }
        fields.wallSeconds = rounded(Double(lastMark - lastRecord) / 1e9, significantDigits: 6)
        lastRecord = lastMark
        fields.slurmJobID = job?.id
        fields.slurmRestartCount = job?.restartCount
        checkpointPause = nil
        let losses = window.means.mapValues { $0.isFinite ? rounded($0, significantDigits: 6) : nil }
        let record = TickRecord(fields, losses: losses, quality: quality)
        try directory.appendMetrics(record.jsonLine())
        try tensorBoard?.write(
            step: progress.imagesShown, scalars: record.scalars, images: [(tag: "samples", image: grid)])
        console.tick(
            progressLine(tick: tick, window: window, imagesShown: progress.imagesShown, secondsLeft: secondsLeft)
                + laggardNote(group.collective.takeLargestLag()))
        // The grid and metric batches leave buffers of sizes no training step asks for.
        TensorMemory.releaseUnused()
    }

    /// `tick 45  kimg 45.0/70.0  32x32 fade-in α=0.63  d_loss -2.3301  g_loss 5.9380  21.0 img/s  ETA 5m34s`
    /// The ETA is `secondsLeft` (`RemainingTime`), "?" before anything was measured.
    private func progressLine(tick: Int, window: TickWindow, imagesShown: Int, secondsLeft: Double?) -> String {
        let point = trainer.schedule, means = window.means
        let kimg = Double(imagesShown) / 1000
        let losses = ["d_loss", "g_loss"].compactMap { name in
            means[name].map { "\(name) \(String(format: "%.4f", $0))" }
        }
        let phase = point.phase == .fadeIn ? "fade-in α=\(String(format: "%.2f", point.alpha))" : "stable"
        return "tick \(tick)  kimg \(formatKimg(kimg))/\(formatKimg(config.totalKimg))  "
            + "\(point.resolution)x\(point.resolution) \(phase)  " + losses.joined(separator: "  ")
            + "  \(String(format: "%.1f", window.imagesPerSecond)) img/s  ETA \(formatDuration(secondsLeft ?? .nan))"
    }

    /// `  slowest: rank 3 (node7) 2.4 s behind` when, in some collective of the tick, one rank arrived at
    /// least `Self.reportedLag` seconds after another: an early sign of a rank the watchdog may end.
    private func laggardNote(_ lag: RankLag?) -> String {
        guard let lag, lag.seconds >= Self.reportedLag else { return "" }
        return "  slowest: rank \(lag.rank) (\(lag.host)) \(String(format: "%.1f", lag.seconds)) s behind"
    }

    /// Lags below this are the ordinary jitter of ranks sharing cores.
    private static let reportedLag = 1.0

    /// FID and KID of the averaged generator against the reals, on `fidImages` fixed latents and real
    /// images, when due (every `fidTicks` ticks and at the end); empty otherwise. The reals' features are
    /// computed once per resolution (and cached beside the dataset file).
    private func measureInception(final: Bool) throws -> [(String, Double)] {
        guard let inception, config.fidTicks > 0 && tick % config.fidTicks == 0 || final else { return [] }
        let resolution = trainer.schedule.resolution, count = config.fidImages
        let seed = config.inceptionSeed
        let collective = group.collective
        if realInceptionFeatures[resolution] == nil {
            realInceptionFeatures[resolution] = try InceptionScores.realFeatures(
                trainer.dataset, count: count, resolution: resolution, seed: seed, cacheBeside: trainer.dataset.path,
                network: inception, over: collective)
        }
        let generated = try InceptionScores.features(count: count, network: inception, over: collective) {
            MetricImages.generated(
                positions: $0, latentSize: config.network.latent, seed: seed, generator: trainer.generateAveraged)
        }
        let (fid, kid) = try InceptionScores.scores(
            real: realInceptionFeatures[resolution]!, generated: generated, fid: config.fid, kid: config.kid,
            seed: seed)
        return [("fid", fid), ("kid", kid)].compactMap { name, value in value.map { (name, $0) } }
    }

    private func writeRealsGrid() throws {
        let size = config.network.resolution
        let indices = gridLayout.realIndices(datasetLabels: try trainer.dataset.labels(), count: trainer.dataset.count)
        let images = Tensor(zeros: [indices.count, config.network.imageChannels, size, size])
        try trainer.dataset.fillBatch(indices: indices, resolution: size, mirror: nil, into: images.pointer)
        try imageGrid(images, columns: gridLayout.columns, cellSize: size).write(
            path: directory.samplesPath + "/reals.png")
    }
}

/// The steps of the tick in progress: their mean losses and their speed, timed to the end of the last
/// step (what the tick's end writes is not training time).
private struct TickWindow {
    let started = DispatchTime.now().uptimeNanoseconds
    let start: Int
    private var lastStepEnded = DispatchTime.now().uptimeNanoseconds
    private var imagesShown: Int
    private var sums: [String: Double] = [:]
    private var steps = 0

    init(start: Int) {
        self.start = start
        imagesShown = start
    }

    mutating func add(_ log: StepLog, imagesShown: Int) {
        for (name, value) in log { sums[name, default: 0] += Double(value) }
        steps += 1
        self.imagesShown = imagesShown
        lastStepEnded = DispatchTime.now().uptimeNanoseconds
    }

    var means: [String: Double] { sums.mapValues { $0 / Double(max(steps, 1)) } }
    var seconds: Double { Double(lastStepEnded - started) / 1e9 }
    var imagesPerSecond: Double { Double(imagesShown - start) / max(seconds, 1e-9) }
}

/// Columns of a sample grid: the first divisor of `count` from its square root up, so that grids are
/// full rectangles (32 samples: 8 x 4; a prime count makes one row).
public func gridColumnCount(_ count: Int) -> Int {
    let root = Int(Double(count).squareRoot().rounded(.up))
    return (root...max(root, count)).first { count % $0 == 0 } ?? root
}

/// A duration in whole seconds for display, or nil for one no clock shows (NaN, negative, beyond a
/// million years): an ETA at a speed near zero, or a duration read from a damaged file.
public func wholeSeconds(_ seconds: Double) -> Int? {
    guard seconds.isFinite, seconds >= 0, seconds < 3e13 else { return nil }
    return Int(seconds.rounded())
}

func formatKimg(_ kimg: Double) -> String { String(format: kimg < 10 ? "%.2f" : "%.1f", kimg) }

/// `12m03s`, or `1h02m` from an hour up: an ETA or a run's length.
public func formatDuration(_ seconds: Double) -> String {
    guard let total = wholeSeconds(seconds) else { return "?" }
    return total >= 3600
        ? "\(total / 3600)h\(String(format: "%02d", total / 60 % 60))m"
        : "\(total / 60)m\(String(format: "%02d", total % 60))s"
}
