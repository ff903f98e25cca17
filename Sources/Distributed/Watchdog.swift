import Glibc
import MPIShim

/// Waits for collectives with a deadline, in the spirit of Horovod's stall inspector: a job in which a
/// rank stops (SIGSTOP, a hung file system, a dead node) ends with a message naming that rank and its
/// host, instead of every other rank waiting forever.
///
/// Each rank numbers the collectives it starts and tells rank 0 when it arrives at one (a note on a
/// communicator of their own, sent without blocking). A rank that waits longer than `timeout` seconds
/// ends the job through MPI_Abort: rank 0 names the ranks that have not arrived, or that arrived and
/// then fell silent; any other rank names rank 0 when rank 0 is the one missing (rank 0 tells the ranks
/// that wait where it stands) and otherwise leaves the verdict to rank 0. Waiting ranks poll with
/// MPI_Test and sleep between polls, so a stall costs no CPU.
///
/// Not thread-safe: MPI runs at MPI_THREAD_SERIALIZED and collectives are never called concurrently.
final class Watchdog: @unchecked Sendable {
    let rank: Int
    let size: Int
    /// Each rank's MPI processor name, for the messages.
    var hosts: [String]
    /// Seconds a rank waits in one collective before it ends the job.
    var timeout: Double = Watchdog.defaultTimeout
    static let defaultTimeout = 600.0
    /// Set once the job's MPI is finalized: no collective may follow.
    var finalized = false
    /// The longest this rank was held up inside a wait since its last arrival, in nanoseconds.
    private var stall: Int64 = 0
    /// The newest collective this rank has started.
    private(set) var sequence: Int64 = 0
    /// Rank 0's bookkeeping (nil elsewhere, and in a job of one rank).
    private var ledger: ArrivalLedger?
    /// Where rank 0 last said it stood, and when (other ranks).
    private var leaderPosition: Int64 = 0
    private var leaderHeard = Watchdog.now()

    /// A collective this rank has started, named for the messages.
    struct Arrival {
        let sequence: Int64
        let operation: String
        let bytes: Int

        var description: String { "collective \(sequence) (\(operation) of \(bytes) bytes)" }
    }

    init(rank: Int, size: Int, host: String) {
        (self.rank, self.size) = (rank, size)
        hosts = Array(repeating: "?", count: size)
        hosts[rank] = host
        if rank == 0 && size > 1 { ledger = ArrivalLedger(size: size, now: Self.now()) }
    }

    /// Numbers the collective this rank is starting and tells rank 0.
    func arrive(_ operation: String, bytes: Int) throws -> Arrival {
        sequence += 1
        let note = WatchdogNote(kind: .arrival, sequence: sequence, time: Self.realTime(), stall: stall)
        stall = 0
        if ledger != nil {
            ledger?.record(note, from: 0, at: Self.now())
        } else if size > 1 {
            try send(note, to: 0)
        }
        try service()
        return Arrival(sequence: sequence, operation: operation, bytes: bytes)
    }

    /// Polls `request` until the collective completes (the request is then freed) or the deadline
    /// passes (the job then ends).
    func complete(_ request: OpaquePointer, _ arrival: Arrival) throws {
        let start = Self.now()
        var nextHeartbeat = start + nanoseconds(timeout / 4)
        var done: Int32 = 0
        var polled = start
        while true {
            try MPIError.check(pgmpi_test(request, &done), arrival.operation)
            if done != 0 { break }
            try service()
            let now = Self.now()
            // Polls are at most a millisecond apart: a longer gap means this rank was held up itself.
            if now - polled > Self.heldUp { stall = max(stall, Int64(now - polled)) }
            polled = now
            if ledger == nil && size > 1 && now >= nextHeartbeat {
                try send(WatchdogNote(kind: .stillWaiting, sequence: arrival.sequence), to: 0)
                nextHeartbeat = now + nanoseconds(timeout / 4)
            }
            // A rank alone has no one to wait for: its collectives only need polling to complete.
            if size > 1 && now - start >= nanoseconds(timeout) { expire(arrival, waited: now - start, now: now) }
            Self.pause(waited: now - start)
        }
    }

    /// Polls `request` once without waiting; true (and the request freed) once the collective completed.
    func test(_ request: OpaquePointer, _ arrival: Arrival) throws -> Bool {
        var done: Int32 = 0
        try MPIError.check(pgmpi_test(request, &done), arrival.operation)
        if done == 0 { try service() }
        return done != 0
    }

    /// The largest lag of a rank behind the others since the last call; rank 0 alone knows it.
    func takeLargestLag() -> RankLag? { ledger?.takeLargestLag(hosts: hosts) }

    /// Settles the notes before MPI_Finalize, after a last collective all ranks completed: rank 0 has
    /// every rank's arrival at it, every rank has heard that rank 0 got there, and no note is in flight.
    func settle() throws {
        let start = Self.now(), last = sequence
        func settled() -> Bool {
            if let ledger { return ledger.arrived.allSatisfy { $0 >= last } }
            return size == 1 || leaderPosition >= last
        }
        var inFlight: Int32 = 0
        while true {
            try service()
            try MPIError.check(pgmpi_notes_in_flight(&inFlight), "MPI_Test(watchdog note)")
            if settled() && inFlight == 0 { return }
            let waited = Self.now() - start
            if waited >= nanoseconds(timeout) {
                pgmpi_abort(1, "watchdog: the notes of collective \(last) did not settle within \(timeout) s")
            }
            Self.pause(waited: waited)
        }
    }

    /// Receives the notes that have come in; rank 0 answers every rank that has caught up with it, so
    /// that they know rank 0 is not the one missing.
    private func service() throws {
        guard size > 1 else { return }
        var words = [Int64](repeating: 0, count: Int(PGMPI_NOTE_WORDS))
        var source: Int32 = 0, received: Int32 = 0
        while true {
            try words.withUnsafeMutableBufferPointer {
                try MPIError.check(
                    pgmpi_note_receive($0.baseAddress, &source, &received), "MPI_Recv(watchdog note)")
            }
            guard received != 0 else { break }
            guard let note = WatchdogNote(words: words) else { continue }
            if ledger != nil {
                ledger?.record(note, from: Int(source), at: Self.now())
                if note.kind == .stillWaiting { try tell(Int(source)) }
            } else if note.kind == .leaderPosition {
                leaderPosition = max(leaderPosition, note.sequence)
                leaderHeard = Self.now()
            }
        }
        if let due = ledger?.ranksToTell(position: sequence) {
            for rank in due { try tell(rank) }
        }
    }

    private func tell(_ rank: Int) throws {
        try send(WatchdogNote(kind: .leaderPosition, sequence: sequence), to: rank)
        ledger?.told(rank, position: sequence)
    }

    private func send(_ note: WatchdogNote, to destination: Int) throws {
        try note.words.withUnsafeBufferPointer {
            try MPIError.check(pgmpi_note_send(Int32(destination), $0.baseAddress), "MPI_Isend(watchdog note)")
        }
    }

    /// Ends the job if this rank's wait in `arrival` has lasted too long, naming who is missing. A rank
    /// other than 0 leaves the verdict to rank 0 while rank 0 has arrived and responds, for at most a
    /// second timeout (by then rank 0's own deadline has passed).
    private func expire(_ arrival: Arrival, waited: UInt64, now: UInt64) {
        let silence = nanoseconds(timeout / 2)
        let reason: String
        if let ledger {
            reason = ledger.verdict(sequence: arrival.sequence, now: now, silence: silence, hosts: hosts)
        } else if leaderPosition < arrival.sequence {
            reason = "\(ArrivalLedger.name(0, hosts)) did not arrive: last at collective \(leaderPosition)"
        } else if now - leaderHeard >= silence {
            reason = "\(ArrivalLedger.name(0, hosts)) arrived but stopped responding (stopped or hung)"
        } else if waited >= 2 * nanoseconds(timeout) {
            reason = "\(ArrivalLedger.name(0, hosts)) arrived and responds, but did not end it"
        } else {
            return
        }
        pgmpi_abort(
            1,
            "watchdog: \(arrival.description) did not complete within \(timeout) s "
                + "(--collective-timeout): \(reason)")
    }

    /// Saturates: a timeout beyond a century is as good as none, and must not trap.
    private func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds < 3e9 else { return UInt64(3e18) }
        return UInt64(max(seconds, 0) * 1e9)
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func realTime() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// A gap between polls that only a stopped or unscheduled process shows.
    static let heldUp: UInt64 = 100_000_000

    /// Sleeps between polls: not at all for the first 50 µs (most collectives finish by then), then an
    /// eighth of the time waited so far, at most a millisecond, so that polling adds at most an eighth to
    /// a collective's time and a long wait costs next to no CPU.
    static func pause(waited: UInt64) {
        guard let microseconds = pauseMicroseconds(waited: waited) else { return }
        usleep(microseconds)
    }

    static func pauseMicroseconds(waited: UInt64) -> UInt32? {
        let micro = waited / 1000
        guard micro >= 50 else { return nil }
        return UInt32(min(max(micro / 8, 10), 1000))
    }
}
