import Foundation
import SafeIO

/// The files of a run:
///
///     RUN_DIR/config.json          resolved configuration
///     RUN_DIR/metrics.jsonl        one JSON object per tick
///     RUN_DIR/samples/reals.png    a grid of training images
///     RUN_DIR/samples/tick-NNNNNN.png   averaged-G samples from fixed latents, one per tick
///     RUN_DIR/checkpoints/step-NNNNNNNNN.ckpt   the newest `keep` checkpoints
///     RUN_DIR/checkpoints/final.ckpt            the networks at the end of the run
///     RUN_DIR/tensorboard/events.out.tfevents.*  scalars and grids per tick, one file per (re)start
public struct RunDirectory {
    public let path: String

    public init(_ path: String) { self.path = path }

    public var configPath: String { path + "/config.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var samplesPath: String { path + "/samples" }
    public var checkpointsPath: String { path + "/checkpoints" }
    public var finalCheckpointPath: String { checkpointsPath + "/final.ckpt" }
    public var tensorBoardPath: String { path + "/tensorboard" }

    public func samplePath(tick: Int) -> String { samplesPath + String(format: "/tick-%06d.png", tick) }
    public func checkpointPath(step: Int) -> String { checkpointsPath + String(format: "/step-%09d.ckpt", step) }

    public func create() throws {
        for directory in [path, samplesPath, checkpointsPath] { try createDirectory(directory) }
    }

    /// Step checkpoints, oldest first.
    public func stepCheckpoints() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsPath)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".ckpt") }.sorted().map {
            checkpointsPath + "/" + $0
        }
    }

    /// Deletes the step checkpoints of steps after `step`: what a fresh start or a resume from an older
    /// checkpoint replaces (newer ones there were unusable, or belong to the abandoned run).
    public func removeCheckpoints(after step: Int) {
        for path in stepCheckpoints() {
            let name = (path as NSString).lastPathComponent.dropFirst("step-".count).dropLast(".ckpt".count)
            if let written = Int(name), written > step { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// Deletes all but the newest `keep` step checkpoints.
    public func pruneCheckpoints(keep: Int) {
        for old in stepCheckpoints().dropLast(keep) { try? FileManager.default.removeItem(atPath: old) }
    }

    /// The newest step checkpoint that reads back intact, trying older ones when newer ones are corrupt
    /// or truncated (each reported through `report`); nil when the directory has none.
    public func newestUsableCheckpoint(report: (String) -> Void) throws -> (checkpoint: Checkpoint, path: String)? {
        let candidates = stepCheckpoints()
        for path in candidates.reversed() {
            do {
                return (try Checkpoint.read(path: path), path)
            } catch {
                report("skipping unusable checkpoint: \(error)")
            }
        }
        guard candidates.isEmpty else {
            throw FileError(path: checkpointsPath, problem: "none of the \(candidates.count) checkpoints is usable")
        }
        return nil
    }

    /// Keeps only the metrics lines of steps up to `step` (all of them for a resumed run's past, none
    /// for a fresh start), so the log never describes steps the run no longer has.
    public func truncateMetrics(afterStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: metricsPath) else { return }
        let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
            guard let record = try? TickRecord.parse(line) else { return false }
            return record.step <= step
        }
        try AtomicFile.write(to: metricsPath, bytes: Array(kept.map { $0 + "\n" }.joined().utf8))
    }

    /// Appends one line to the metrics log.
    public func appendMetrics(_ line: String) throws {
        let data = Data((line + "\n").utf8)
        let descriptor = open(metricsPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError.fromErrno(path: metricsPath, action: "cannot open for appending") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw FileError(path: metricsPath, problem: "cannot append (\(error.localizedDescription))")
        }
    }
}
