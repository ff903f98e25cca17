/// The batch job this run is part of, as the scheduler describes it in the environment (Slurm's
/// SLURM_JOB_ID and SLURM_RESTART_COUNT), for the log and metrics.jsonl: a requeued job's restarts can
/// then be told apart in the run's records.
public struct SchedulerJob: Equatable {
    public let id: String
    /// 0 for a job's first start, then 1, 2, ... after each requeue.
    public let restartCount: Int

    public init(id: String, restartCount: Int) {
        self.id = id
        self.restartCount = restartCount
    }

    /// The Slurm job in `environment`, if any; a malformed restart count counts as the first start.
    public static func slurm(_ environment: [String: String]) -> SchedulerJob? {
        guard let id = environment["SLURM_JOB_ID"], !id.isEmpty, id.count <= 64 else { return nil }
        let restarts = environment["SLURM_RESTART_COUNT"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        return SchedulerJob(id: id, restartCount: restarts ?? 0)
    }

    /// `Slurm job 1234, restart 2`.
    public var description: String { "Slurm job \(id), restart \(restartCount)" }
}
