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
public struct RunDirectory {
    public let path: String

    public init(_ path: String) { self.path = path }

    public var configPath: String { path + "/config.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var samplesPath: String { path + "/samples" }
    public var checkpointsPath: String { path + "/checkpoints" }
    public var finalCheckpointPath: String { checkpointsPath + "/final.ckpt" }

    public func samplePath(tick: Int) -> String { samplesPath + String(format: "/tick-%06d.png", tick) }
    public func checkpointPath(step: Int) -> String { checkpointsPath + String(format: "/step-%09d.ckpt", step) }

    public func create() throws {
        for directory in [path, samplesPath, checkpointsPath] { try createDirectory(directory) }
    }

    /// Step checkpoints, oldest first.
    public func stepCheckpoints() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsPath)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".ckpt") }.sorted().map { checkpointsPath + "/" + $0 }
    }

    /// Deletes all but the newest `keep` step checkpoints.
    public func pruneCheckpoints(keep: Int) {
        for old in stepCheckpoints().dropLast(keep) { try? FileManager.default.removeItem(atPath: old) }
    }

    /// Appends one line to the metrics log.
    public func appendMetrics(_ line: String) throws {
        let data = Data((line + "\n").utf8)
        if !FileManager.default.fileExists(atPath: metricsPath) {
            FileManager.default.createFile(atPath: metricsPath, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: metricsPath) else {
            throw FileError(path: metricsPath, problem: "cannot open for appending")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } catch {
            throw FileError(path: metricsPath, problem: "cannot append (\(error.localizedDescription))")
        }
    }
}
