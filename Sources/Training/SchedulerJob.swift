/// The batch job this run is part of, as the scheduler describes it in the environment (Slurm's
/// SLURM_JOB_ID, SLURM_JOB_NAME and SLURM_RESTART_COUNT), for the log and metrics.jsonl (a requeued job's
/// restarts can then be told apart in the run's records) and for the run directory's default.
public struct SchedulerJob: Equatable {
    public let id: String
    /// `sbatch --job-name`, by default the batch script's file name; empty when Slurm did not say.
    public let name: String
    /// 0 for a job's first start, then 1, 2, ... after each requeue.
    public let restartCount: Int

    public init(id: String, name: String = "", restartCount: Int) {
        self.id = id
        self.name = name
        self.restartCount = restartCount
    }

    /// The Slurm job in `environment`, if any; a malformed restart count counts as the first start.
    public static func slurm(_ environment: [String: String]) -> SchedulerJob? {
        guard let id = environment["SLURM_JOB_ID"], !id.isEmpty, id.count <= 64 else { return nil }
        let restarts = environment["SLURM_RESTART_COUNT"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        return SchedulerJob(id: id, name: environment["SLURM_JOB_NAME"] ?? "", restartCount: restarts ?? 0)
    }

    /// `runs/NAME-ID` under the working directory: a requeued job keeps its id, so every restart finds
    /// the run it resumes, while each new submission gets a directory of its own. Characters a file name
    /// should not hold (a job name is free text) become `_`.
    public var defaultRunDirectory: String {
        let safe = { (text: String) in
            String(text.prefix(64).map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        }
        return "runs/\(name.isEmpty ? "job" : safe(name))-\(safe(id))"
    }

    /// `Slurm job 1234, restart 2`.
    public var description: String { "Slurm job \(id), restart \(restartCount)" }
}
