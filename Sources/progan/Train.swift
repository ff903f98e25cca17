import ArgumentParser
import Dataset
import Distributed
import Engine
import Foundation
import Metrics
import Model
import SafeIO
import Training
import TrainingOptions

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train G and D with progressive growing; run under mpirun for data-parallel training.",
        discussion: """
            Every MPI rank trains a replica on its share of each global minibatch; rank 0 prints progress and \
            writes the run directory (config.json, metrics.jsonl, samples/, checkpoints/). A folder of PNG and JPEG \
            images given as --dataset is prepared into the run directory first.

            SIGTERM, SIGINT, SIGHUP or SIGUSR1 on any rank (the set is PROGAN_STOP_SIGNALS) stops the run at \
            the next micro-batch boundary with a checkpoint; the exit status is then 75 and the same command \
            resumes. 0: finished; 1: error.
            """)

    @Option(help: ArgumentHelp("A prepared dataset file, or a folder of PNG and JPEG images.", valueName: "path"))
    var dataset: String

    @Option(
        help: ArgumentHelp(
            "Run directory; in a Slurm job it defaults to runs/JOBNAME-JOBID, the same for every restart of the job.",
            valueName: "dir"))
    var out: String?

    /// `--out`, or in a Slurm job without it the job's default; `validate` makes sure there is one.
    private var runDirectoryPath: String {
        out ?? SchedulerJob.slurm(ProcessInfo.processInfo.environment)?.defaultRunDirectory ?? ""
    }

    @OptionGroup var options: ConfigOptions

    @OptionGroup(title: "Training settings") var flags: TrainingFlags

    @Option(
        help: ArgumentHelp(
            "auto: continue from the newest usable checkpoint in the run directory, if any; "
                + "PATH: from that checkpoint; none: start afresh.", valueName: "auto|PATH|none"))
    var resume = ResumeChoice.auto

    @Option(
        name: .customLong("fit-minutes"),
        help: ArgumentHelp(
            "Make a new run as long (in whole kimg) as trains in about this many minutes here: timed on this "
                + "machine and layout before the first step (a ramp-down of the learning rate that ends with the "
                + "run is stretched with it), then moved at tick ends to what the time left fits at the pace "
                + "measured. config.json records the length, and a resumed run keeps it.",
            valueName: "minutes"))
    var fitMinutes: Double?

    @Flag(
        name: .customLong("dry-run"),
        help: "Print the plan for the ranks mpirun starts (the same as `progan plan`) and exit without training.")
    var dryRun = false

    func validate() throws {
        // Outside Slurm there is no job to name the directory after.
        guard out != nil || SchedulerJob.slurm(ProcessInfo.processInfo.environment) != nil else {
            throw ValidationError("--out: missing; name the run directory (only a Slurm job has a default)")
        }
        try checkOutputPath(runDirectoryPath, "--out")
        try resume.rejectMisspelledKeyword()
        if let fitMinutes {
            guard fitMinutes > 0 && fitMinutes <= 1e6 else {
                throw ValidationError("--fit-minutes \(fitMinutes) is out of range (greater than 0, at most 1000000)")
            }
            guard flags.totalKimg == nil else { throw ValidationError("give --fit-minutes or --total-kimg, not both") }
        }
    }

    func run() throws {
        if dryRun { return printPlan() }
        // Before anything is written, so that no signal kills the process halfway through a file.
        do { try StopRequests.install() } catch { fail(error) }
        let world = joinWorld()
        let isLeader = world.rank == 0
        let console = Console.standardOutput()
        let report: (String) -> Void = { line in
            if isLeader { console.line(line) }
        }
        let directory = RunDirectory(runDirectoryPath)
        var config: TrainingConfig
        let inception: InceptionFeatures?
        // Rank 0 owns the run directory before it writes anything into it, until the process ends.
        var ownership: (lock: DirectoryLock, created: Bool)?
        // A run that fails before its first write leaves no directory it created.
        func end(_ error: Error) -> Never {
            if ownership?.created == true { directory.removeIfUnused() }
            world.endJob(error)
        }
        do {
            config = try options.resolved(flags.overrides)
            try config.validate(worldSize: world.size)
            try config.requireMemory(ranks: world.size, threads: config.threads ?? ThreadPool.boundCores)
            // Missing weights are an error before anything is written, not at the end of the run.
            inception = try config.fid || config.kid ? InceptionScores.network(for: "--fid") : nil
            if isLeader { ownership = try takeOwnership(directory) }
            try agreeThatAllRanksStart(nil, world: world)
            world.collectiveTimeout = config.collectiveTimeoutSeconds
        } catch {
            try? agreeThatAllRanksStart(error, world: world)
            end(error)
        }
        do {
            // The engine's results do not depend on its thread count, so every mode may use all the
            // cores this rank is bound to.
            ThreadPool.threads = config.threads ?? ThreadPool.boundCores
            // Rank 0 alone reads the checkpoint (other hosts may not see the run directory), before the
            // dataset is prepared, so that a run that cannot resume leaves the directory as it was; the
            // synchronization below hands its state to every rank.
            let resumePoint = isLeader ? try checkpointToResume(directory) : nil
            guard let datasetPath = try preparedDataset(config: config, world: world, report: report) else {
                try world.finalize()
                Foundation.exit(ExitStatus.stoppedOnRequest)
            }
            let prepared = try PreparedDataset(path: datasetPath)
            if isLeader, let note = legacyFormatNote(prepared) { warn(note) }
            var probe: CostProbe?
            if let fitMinutes {
                (config, probe) = try fitLength(
                    config, minutes: fitMinutes, resuming: resumePoint != nil, dataset: prepared, inception: inception,
                    directory: directory, world: world, report: report)
            }
            let trainer = try Trainer(config: config, dataset: prepared, collective: world)
            let group = ReplicaGroup(world)
            if let (checkpoint, path) = resumePoint {
                try trainer.restore(checkpoint, path: path)
                let kimg = formatted(Double(checkpoint.state.imagesShown) / 1000, 2)
                report("resuming from \(path): step \(checkpoint.state.step), \(kimg) kimg")
            }
            try group.synchronize(trainer.replica)
            let job = SchedulerJob.slurm(ProcessInfo.processInfo.environment)
            if let job { report(job.description) }
            report(
                "\(world.size) rank\(world.size == 1 ? "" : "s") x \(ThreadPool.threads) "
                    + "thread\(ThreadPool.threads == 1 ? "" : "s"); G \(trainer.replica.generatorWeights.count) and "
                    + "D \(trainer.replica.discriminatorWeights.count) parameters; loss \(config.loss.kind.rawValue)"
                    + (config.deterministic ? "; deterministic" : ""))
            if let note = try config.idleRanksNote(ranks: world.size) { report(note) }
            let outcome = try TrainingRun(
                trainer: trainer, group: group, directory: directory, console: console,
                // A resumed run (not timed again) keeps the length it had rather than fitting a new deadline.
                stopRequested: { StopRequests.requested }, job: job, inception: inception, probe: probe,
                fitMinutes: probe == nil ? nil : fitMinutes
            ).run()
            try world.finalize()
            if outcome != .finished { Foundation.exit(ExitStatus.stoppedOnRequest) }
        } catch {
            end(error)
        }
        withExtendedLifetime(ownership?.lock) {}
    }

    /// `--fit-minutes`: the length rank 0 chooses, taken by every rank. A new run is timed (every rank
    /// times its own share, which the run's ETA then uses); a resumed one keeps what its config.json says,
    /// since the ramp-down stretched with the length is part of the checkpoint's recipe.
    private func fitLength(
        _ config: TrainingConfig, minutes: Double, resuming: Bool, dataset: PreparedDataset,
        inception: InceptionFeatures?, directory: RunDirectory, world: Communicator, report: (String) -> Void
    ) throws -> (TrainingConfig, CostProbe?) {
        // Only rank 0 knows whether there is a checkpoint to resume.
        var resumingFlag: [UInt8] = [resuming ? 1 : 0]
        try world.broadcast(&resumingFlag, root: 0)
        let resumed = resumingFlag[0] == 1
        var probe: CostProbe?
        var chosen = config
        var atProbePace: Double?
        if resumed && world.rank == 0 {
            let path = directory.configPath
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError(message: "\(path): cannot be read, and --fit-minutes resumes the length it holds")
            }
            let saved = try config.overlaid(withJSON: data, source: path)
            chosen.totalKimg = saved.totalKimg
            chosen.schedule.learningRateRampdown = saved.schedule.learningRateRampdown
        } else if !resumed {
            let timed = try CostProbe.measure(
                config: config, dataset: dataset, rank: world.rank, ranks: world.size,
                from: config.network.resolutions[0], inception: inception,
                budgetSeconds: CostProbe.budgetSeconds(config))
            probe = timed
            if world.rank == 0 {
                let cores = world.size * ThreadPool.threads
                let endOfRun = timed.finalEvaluationSeconds(config: config, dataset: dataset, ranks: world.size)
                chosen = config.fitted(toSeconds: 60 * minutes, probe: timed, cores: cores, endOfRunSeconds: endOfRun)
                atProbePace = chosen.secondsAtProbePace(timed, cores: cores, endOfRunSeconds: endOfRun)
            }
        }
        // The length and the ramp-down, as rank 0 has them (NaN: no ramp-down).
        let ramp = chosen.schedule.learningRateRampdown
        var numbers = [chosen.totalKimg, ramp?.startKimg ?? .nan, ramp?.endKimg ?? .nan, ramp?.finalFraction ?? .nan]
        try numbers.withUnsafeMutableBytes { try world.broadcast($0, root: 0) }
        chosen.totalKimg = numbers[0]
        chosen.schedule.learningRateRampdown =
            numbers[1].isNaN
            ? nil : LearningRateRampdown(startKimg: numbers[1], endKimg: numbers[2], finalFraction: numbers[3])
        try chosen.validate(worldSize: world.size)
        let rampNote = chosen.schedule.learningRateRampdown.map {
            "; the learning rate ramps down from \(formatted($0.startKimg, 1)) to \(formatted($0.endKimg, 1)) kimg"
        }
        // The ETA starts at the probe's pace; the fit allowed for the slower average of a long run.
        let paces = atProbePace.map {
            " (\(formatDuration($0)) at the pace just timed, \(formatDuration($0 * TrainingConfig.probeOptimism)) at "
                + "the \(formatted(TrainingConfig.probeOptimism, 1))x slower one long runs averaged)"
        }
        report(
            resumed
                ? "--fit-minutes: keeping the length of the run being resumed, \(formatted(chosen.totalKimg, 1)) kimg"
                : "--fit-minutes \(formatted(minutes, 1)): \(formatted(chosen.totalKimg, 1)) kimg train in about that "
                    + "long here\(paces ?? "")\(rampNote ?? ""); the run's config.json repeats it (--config)")
        return (chosen, probe)
    }

    /// Locks the run directory and removes what writers killed mid-write left in it, saying so.
    private func takeOwnership(_ directory: RunDirectory) throws -> (lock: DirectoryLock, created: Bool) {
        let (lock, removed, created) = try directory.takeOwnership()
        if !removed.isEmpty {
            warn(
                "removed \(removed.count) temporary file\(removed.count == 1 ? "" : "s") left by an interrupted run: "
                    + removed.map { String($0.dropFirst(directory.path.count + 1)) }.joined(separator: ", "))
        }
        return (lock, created)
    }

    /// The plan for this configuration on the job's ranks, from rank 0 only; MPI is not started, so
    /// the world size comes from OpenMPI's environment.
    private func printPlan() {
        let environment = ProcessInfo.processInfo.environment
        guard (environment["OMPI_COMM_WORLD_RANK"].flatMap { Int($0) } ?? 0) == 0 else { return }
        let ranks = environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } ?? 1
        do {
            let config = try options.resolved(flags.overrides)
            try config.validate(worldSize: ranks)
            let threads = config.threads ?? ThreadPool.boundCores
            let model = CostModel(
                config: config, costs: NetworkCosts(config.network), gbps: 25, latency: 2e-6, measured: [:])
            let report = try LayoutReport(config: config, model: model, machine: nil, ranks: ranks, threads: threads)
            report.lines(title: " (dry run)").forEach { print($0) }
        } catch {
            fail(error)
        }
    }

    /// Settles the configuration check on every rank before any other communication. When every rank
    /// rejects it (the usual case: all got the same flags), rank 0 prints the one-line reason and the
    /// job ends normally with a failing status instead of through MPI_Abort and its banner; a rank that
    /// alone rejects it returns the error so the caller aborts the job, naming that rank.
    private func agreeThatAllRanksStart(_ error: Error?, world: Communicator) throws {
        guard world.size > 1 else { if let error { fail(error) } else { return } }
        let failed = try world.allgather(bytes: [error == nil ? 0 : 1]).map { $0[0] == 1 }
        guard let error else {
            if failed.contains(true) {
                throw ConfigError(message: "ranks \(failed.indices.filter { failed[$0] }) rejected the configuration")
            }
            return
        }
        guard failed.allSatisfy({ $0 }) else { return }
        // Rank 0 carries the failure: its error line is written before any rank exits, and the others
        // exit 0, because mpirun kills the remaining ranks (rank 0 among them, possibly before it has
        // printed) as soon as one exits non-zero.
        if world.rank == 0 { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
        try world.barrier()
        try world.finalize()
        Foundation.exit(world.rank == 0 ? 1 : 0)
    }

    /// The checkpoint `--resume` asks for, if any.
    private func checkpointToResume(_ directory: RunDirectory) throws -> (Checkpoint, String)? {
        switch resume {
        case .none: return nil
        case .auto: return try directory.newestUsableCheckpoint(warn: warn).map { ($0.checkpoint, $0.path) }
        case .checkpoint(let path): return (try Checkpoint.read(path: path), path)
        }
    }

    /// The dataset file to train on: `--dataset` itself, or, for a folder, a file rank 0 prepares in the
    /// run directory while the other ranks wait; nil when a rank asked to stop meanwhile.
    private func preparedDataset(
        config: TrainingConfig, world: Communicator, report: (String) -> Void
    ) throws
        -> String?
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataset, isDirectory: &isDirectory) else {
            throw ConfigError(message: "\(dataset): no such file or directory")
        }
        guard isDirectory.boolValue else { return dataset }
        let resolution = config.network.resolution
        let path = "\(runDirectoryPath)/dataset-\(resolution).pgds"
        var stopped = [0.0]
        if world.rank == 0 {
            try RunDirectory(runDirectoryPath).create()
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                // Alone, so rank 0 always has the report.
                if let prepared = try PreparedDataset.prepare(
                    folder: dataset, resolution: resolution, output: path, progress: progressLine(since: start),
                    stopRequested: { StopRequests.requested })
                {
                    describe(prepared, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, ranks: 1)
                        .forEach(report)
                    warnSkipped(prepared)
                }
            } catch DatasetError.stopped {
                report("stopped on request while preparing \(dataset); the same command starts again")
                stopped[0] = 1
            }
        }
        // Waits for rank 0 and learns whether any rank asked to stop meanwhile. Preparing a large folder takes
        // longer than any collective should, so the others wait for it under the longest timeout there is
        // (`progan prepare` beforehand avoids the wait).
        stopped[0] += StopRequests.requested ? 1 : 0
        let timeout = world.collectiveTimeout
        world.collectiveTimeout = RunSettings.longestCollectiveTimeout
        try world.sum(&stopped)
        world.collectiveTimeout = timeout
        return stopped[0] > 0 ? nil : path
    }
}
