import MPIShim

/// A non-blocking allreduce in flight. Its buffer must stay alive and untouched
/// until `wait()` returns.
public final class PendingReduction {
    private var request: OpaquePointer?

    init(request: OpaquePointer) {
        self.request = request
    }

    /// Blocks until the reduced values are in the buffer. Later calls return at once.
    public func wait() throws {
        guard let request else { return }
        self.request = nil
        try MPIError.check(pgmpi_wait(request), "MPI_Wait")
    }

    deinit {
        // MPI may keep writing into the caller's buffer until the request
        // completes, so a reduction dropped without wait() is completed here
        // rather than left to scribble over memory that may have been reused.
        guard request != nil else { return }
        do {
            try wait()
        } catch {
            pgmpi_abort(1, "non-blocking allreduce dropped without wait() failed: \(error)")
        }
    }
}
