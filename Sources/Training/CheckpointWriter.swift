import Foundation
import SafeIO

/// Writes checkpoints on a background thread, so that rank 0 trains on while a large checkpoint goes to
/// a slow disk. The checkpoint handed over is already a copy of the replica (taking it is the only pause
/// training sees); the file is replaced atomically as every checkpoint is. At most one write is in
/// flight: starting another waits for the previous one.
final class CheckpointWriter {
    /// A write that ended.
    struct Written {
        let path: String
        let step: Int
        let seconds: Double
    }

    /// PROGAN_TEST_CHECKPOINT_DELAY_MS, for tests only: holds each write this long between filling the
    /// temporary file and renaming it over the checkpoint, the way a slow disk would.
    static let testDelayVariable = "PROGAN_TEST_CHECKPOINT_DELAY_MS"

    private let condition = NSCondition()
    private var writing = false
    private var ended: [Result<Written, Error>] = []
    private let testDelay: UInt32
    /// Runs on the writer thread after each successful write (pruning older checkpoints).
    private let afterWrite: () -> Void

    init(afterWrite: @escaping () -> Void) {
        let milliseconds = ProcessInfo.processInfo.environment[Self.testDelayVariable].flatMap { UInt32($0) }
        testDelay = min(milliseconds ?? 0, 60_000)
        self.afterWrite = afterWrite
    }

    /// Whether a write is in flight.
    var isWriting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return writing
    }

    /// Starts writing `checkpoint` to `path` in the background, once the write in flight (if any) ended.
    func start(_ checkpoint: Checkpoint, path: String) {
        condition.lock()
        while writing { condition.wait() }
        writing = true
        condition.unlock()
        let thread = Thread { [self] in
            let started = DispatchTime.now().uptimeNanoseconds
            let result = Result<Written, Error> {
                try write(checkpoint, to: path)
                afterWrite()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                return Written(path: path, step: checkpoint.state.step, seconds: seconds)
            }
            condition.lock()
            ended.append(result)
            writing = false
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "checkpoint writer"
        thread.start()
    }

    /// The writes that ended since the last call, without waiting; the first failure is thrown.
    func collect() throws -> [Written] {
        condition.lock()
        let results = ended
        ended = []
        condition.unlock()
        return try results.map { try $0.get() }
    }

    /// Waits for the write in flight, then returns what `collect` would.
    func finish() throws -> [Written] {
        condition.lock()
        while writing { condition.wait() }
        condition.unlock()
        return try collect()
    }

    private func write(_ checkpoint: Checkpoint, to path: String) throws {
        guard testDelay > 0 else { return try checkpoint.write(to: path) }
        let bytes = try checkpoint.serialized()
        try AtomicFile.write(to: path) { temporaryPath in
            try Data(bytes).write(to: URL(fileURLWithPath: temporaryPath))
            usleep(testDelay * 1000)
        }
    }
}
