import MPIShim

/// A non-blocking collective in flight, under the watchdog. Its buffer must stay alive and untouched
/// until `wait()` returns.
public final class PendingReduction {
    private var request: OpaquePointer?
    private let arrival: Watchdog.Arrival
    private let watchdog: Watchdog

    init(request: OpaquePointer, arrival: Watchdog.Arrival, watchdog: Watchdog) {
        (self.request, self.arrival, self.watchdog) = (request, arrival, watchdog)
    }

    /// Blocks until the reduced values are in the buffer, or ends the job if some rank does not join
    /// within the collective timeout. Later calls return at once.
    public func wait() throws {
        guard let request else { return }
        self.request = nil
        try watchdog.complete(request, arrival)
    }

    /// Polls the collective once (MPI_Test); true once it has completed.
    public func progress() throws -> Bool {
        guard let request else { return true }
        guard try watchdog.test(request, arrival) else { return false }
        self.request = nil
        return true
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
