import XCTest

@testable import Training

/// The Slurm job a run is part of, from the environment to metrics.jsonl.
final class SchedulerJobTests: XCTestCase {
    func testSlurmEnvironmentIsRead() {
        XCTAssertNil(SchedulerJob.slurm([:]))
        XCTAssertNil(SchedulerJob.slurm(["SLURM_JOB_ID": ""]))
        XCTAssertEqual(SchedulerJob.slurm(["SLURM_JOB_ID": "42"]), SchedulerJob(id: "42", restartCount: 0))
        XCTAssertEqual(
            SchedulerJob.slurm(["SLURM_JOB_ID": "42", "SLURM_RESTART_COUNT": "3"]),
            SchedulerJob(id: "42", restartCount: 3))
        for malformed in ["-1", "x", "99999999999999999999"] {
            XCTAssertEqual(
                SchedulerJob.slurm(["SLURM_JOB_ID": "42", "SLURM_RESTART_COUNT": malformed])?.restartCount, 0,
                malformed)
        }
    }

    /// A requeued job (same id, next restart) finds the same directory; a new submission does not, and a
    /// job name cannot reach outside `runs/`.
    func testDefaultRunDirectoryFollowsTheJob() throws {
        let first = try XCTUnwrap(SchedulerJob.slurm(["SLURM_JOB_ID": "42", "SLURM_JOB_NAME": "ffhq"]))
        let requeued = try XCTUnwrap(
            SchedulerJob.slurm(["SLURM_JOB_ID": "42", "SLURM_JOB_NAME": "ffhq", "SLURM_RESTART_COUNT": "1"]))
        let next = try XCTUnwrap(SchedulerJob.slurm(["SLURM_JOB_ID": "43", "SLURM_JOB_NAME": "ffhq"]))
        XCTAssertEqual(first.defaultRunDirectory, "runs/ffhq-42")
        XCTAssertEqual(requeued.defaultRunDirectory, first.defaultRunDirectory)
        XCTAssertNotEqual(next.defaultRunDirectory, first.defaultRunDirectory)
        XCTAssertEqual(SchedulerJob.slurm(["SLURM_JOB_ID": "7"])?.defaultRunDirectory, "runs/job-7")
        let odd = SchedulerJob.slurm(["SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "../a b/é"])?.defaultRunDirectory
        XCTAssertEqual(odd, "runs/.._a_b__-7")
        let long = SchedulerJob(id: "7", name: String(repeating: "x", count: 500), restartCount: 0)
        XCTAssertEqual(long.defaultRunDirectory.count, "runs/".count + 64 + "-7".count)
    }

    /// The job, its restart and the checkpoint pause are fields of their own, not loss terms, and a line
    /// without them (no Slurm, no checkpoint in the tick) leaves them out.
    func testJobFieldsRoundTripThroughAMetricsLine() throws {
        var fields = TickRecord.Fields(
            tick: 1, step: 4, kimg: 0.032, resolution: 4, phase: .stabilize, alpha: 1, minibatch: 8,
            learningRate: 0.002, skippedUpdates: 0, imagesPerSecond: 10, tickSeconds: 1, peakResidentMiB: 50,
            grid: "samples/tick-000001.png")
        let plain = TickRecord(fields, losses: ["d_loss": 0.5], quality: [:])
        let plainLine = try plain.jsonLine()
        for key in ["slurm_job_id", "slurm_restart_count", "checkpoint_pause_seconds"] {
            XCTAssertFalse(plainLine.contains(key), key)
        }
        fields.slurmJobID = "42"
        fields.slurmRestartCount = 2
        fields.checkpointPauseSeconds = 0.125
        let record = TickRecord(fields, losses: ["d_loss": 0.5], quality: [:])
        let line = try record.jsonLine()
        XCTAssertTrue(line.contains("\"slurm_job_id\":\"42\""), line)
        XCTAssertTrue(line.contains("\"slurm_restart_count\":2"), line)
        XCTAssertEqual(try TickRecord.parse(line), record)
        XCTAssertEqual(try TickRecord.parse(plainLine), plain)
    }
}
