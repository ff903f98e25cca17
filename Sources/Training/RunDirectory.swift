import CheckpointFile
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
///     RUN_DIR/checkpoints/damaged/              checkpoints found damaged on resume, kept for inspection
///     RUN_DIR/checkpoints/abandoned/            newer checkpoints given up by --resume none or an older PATH
///     RUN_DIR/.lock                the owner's lock (`takeOwnership`)
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

    public var damagedCheckpointsPath: String { checkpointsPath + "/damaged" }
    public var abandonedCheckpointsPath: String { checkpointsPath + "/abandoned" }

    /// Makes the directory this process's alone for as long as the returned lock lives (a second run on
    /// it fails at once, naming the host and PID of the first), then removes the temporary files of
    /// writers that were killed mid-write; returns the lock, what was removed, and whether the directory
    /// is new (see `removeIfUnused`).
    public func takeOwnership() throws -> (lock: DirectoryLock, removedTemporaries: [String], created: Bool) {
        let created = access(path, F_OK) != 0
        try createDirectory(path)
        let lock = try DirectoryLock(directory: path)
        return (lock, AtomicFile.removeAbandonedTemporaries(under: path), created)
    }

    /// Removes a directory that holds nothing but the lock and empty folders: what a run that failed
    /// before its first write leaves of a directory it created.
    public func removeIfUnused() {
        guard let entries = FileManager.default.enumerator(atPath: path) else { return }
        for case let entry as String in entries where entry != ".lock" {
            let type =
                try? FileManager.default.attributesOfItem(atPath: path + "/" + entry)[.type] as? FileAttributeType
            guard type == .typeDirectory else { return }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The step of a checkpoint file name, `step-NNNNNNNNN.ckpt` (nine digits or more), nil for any other name.
    static func checkpointStep(fileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".ckpt") else { return nil }
        let digits = name.dropFirst("step-".count).dropLast(".ckpt".count)
        guard digits.count >= 9, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return Int(digits)
    }

    /// Every entry of `checkpoints/` named like a step checkpoint (of any file type), oldest step first.
    public func stepCheckpoints() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsPath)) ?? []
        return names.compactMap { name in Self.checkpointStep(fileName: name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }.map { checkpointsPath + "/" + $0.1 }
    }

    /// Moves the step checkpoints of steps after `step` into `checkpoints/abandoned/`: they belong to the
    /// future that a fresh start or a resume from an older checkpoint gives up, and would otherwise be
    /// taken for this run's by the next `--resume auto`. Moved, not deleted, since the user may have
    /// typed `--resume none` by mistake. Returns where each went.
    public func setAsideCheckpoints(after step: Int) throws -> [String] {
        try stepCheckpoints().filter { isRegularFile($0) && Self.checkpointStep(fileName: fileName($0))! > step }
            .map { try move($0, into: abandonedCheckpointsPath, calling: "abandoned") }
    }

    /// Deletes all but the newest `keep` step checkpoints; only regular files are deleted, and only they count.
    public func pruneCheckpoints(keep: Int) {
        for old in stepCheckpoints().filter(isRegularFile).dropLast(keep) { removeIfRegularFile(old) }
    }

    /// The newest step checkpoint, nil when the directory has none. Newer ones that are provably damaged
    /// (truncated, failing a checksum, without the magic number) are reported through `warn`, moved into
    /// `checkpoints/damaged/` and passed over; anything else that keeps the newest from being used (a newer
    /// format version, a permission or I/O error, a directory under a checkpoint's name, content that
    /// passes its checksums but does not decode) is an error, and nothing is moved or deleted.
    public func newestUsableCheckpoint(warn: (String) -> Void) throws -> (checkpoint: Checkpoint, path: String)? {
        let candidates = stepCheckpoints()
        for path in candidates.reversed() {
            switch try readForResume(path) {
            case .usable(let checkpoint):
                return (checkpoint, path)
            case .damaged(let problem):
                let destination = try move(path, into: damagedCheckpointsPath, calling: "damaged")
                warn("skipping unusable checkpoint: \(path): \(problem); moved to \(destination)")
            }
        }
        guard candidates.isEmpty else {
            throw FileError(
                path: checkpointsPath,
                problem: "none of the \(candidates.count) checkpoints is usable (moved to \(damagedCheckpointsPath))")
        }
        return nil
    }

    private enum ResumeCandidate {
        case usable(Checkpoint)
        case damaged(problem: String)
    }

    private func readForResume(_ path: String) throws -> ResumeCandidate {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw FileError.fromErrno(path: path, action: "cannot examine") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            let kind = status.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file"
            throw FileError(
                path: path, problem: "is \(kind), not a checkpoint; move it out of \(checkpointsPath) to resume")
        }
        guard status.st_size > 0 else { return .damaged(problem: "empty file (truncated)") }
        let bytes = try readFileBytes(path, describedAs: Checkpoint.fileKind)
        guard let version = CheckpointFile.claimedVersion(bytes) else {
            return .damaged(problem: "not a progan checkpoint (bad magic number or truncated header)")
        }
        guard version == CheckpointFile.version else {
            throw FileError(
                path: path,
                problem: "checkpoint format version \(version); this build reads version \(CheckpointFile.version): "
                    + "resume with the progan that wrote it, or start afresh in another directory")
        }
        let file: CheckpointFile
        do { file = try CheckpointFile.parse(bytes, path: path) } catch let error as FileError {
            return .damaged(problem: error.problem)
        }
        return .usable(try Checkpoint(file, path: path))
    }

    /// Moves a checkpoint into `folder` (under a new name if one is there); returns where.
    private func move(_ path: String, into folder: String, calling kind: String) throws -> String {
        try createDirectory(folder)
        let name = fileName(path)
        var destination = folder + "/" + name, copy = 1
        while access(destination, F_OK) == 0 {
            destination = folder + "/\(name).\(copy)"
            copy += 1
        }
        guard rename(path, destination) == 0 else {
            throw FileError.fromErrno(path: path, action: "cannot move this \(kind) checkpoint to \(destination)")
        }
        return destination
    }

    private func fileName(_ path: String) -> String { String(path[path.index(after: path.lastIndex(of: "/")!)...]) }

    private func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }

    private func removeIfRegularFile(_ path: String) {
        if isRegularFile(path) { unlink(path) }
    }

    /// Keeps only the metrics lines of steps up to `step` (all of them for a resumed run's past, none
    /// for a fresh start), so the log never describes steps the run no longer has.
    public func truncateMetrics(afterStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: metricsPath) else { return }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        // Lines are appended whole with their newline: text after the last one is an append cut short.
        lines.removeLast()
        let kept = lines.filter { line in
            // Any other line that cannot be read stays, for the report to name: nothing unread is deleted.
            guard let record = try? TickRecord.parse(line) else { return !line.isEmpty }
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
