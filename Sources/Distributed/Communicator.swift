import Glibc
import MPIShim

/// All ranks of the job (MPI_COMM_WORLD), seen from this process.
///
/// Collective methods must be called by every rank in the same order with
/// matching arguments. A rank that cannot continue must end the whole job with
/// `abort(code:message:)` (or `failFast`): returning or exiting alone would
/// leave the other ranks blocked in their next collective. A rank that never
/// arrives at a collective (stopped, hung) ends the job after
/// `collectiveTimeout` seconds, named by the `Watchdog`.
public final class Communicator: Sendable {
    public let rank: Int
    public let size: Int
    public let processorName: String
    let watchdog: Watchdog

    // A static let is initialised once, thread-safely, which is exactly the
    // once-per-process rule MPI_Init imposes.
    private static let sharedWorld = Result { try Communicator() }

    /// Initialises MPI on first use. Without mpirun the process is a singleton
    /// job of size 1.
    public static func world() throws -> Communicator {
        try sharedWorld.get()
    }

    private init() throws {
        try MPIError.check(pgmpi_init(), "MPI_Init_thread")
        var rank: Int32 = 0
        var size: Int32 = 0
        try MPIError.check(pgmpi_rank(&rank), "MPI_Comm_rank")
        try MPIError.check(pgmpi_size(&size), "MPI_Comm_size")
        var nameStatus: Int32 = 0
        let name = stringFromC(capacity: Self.hostCapacity) { nameStatus = pgmpi_processor_name($0, $1) }
        try MPIError.check(nameStatus, "MPI_Get_processor_name")
        self.rank = Int(rank)
        self.size = Int(size)
        self.processorName = name
        watchdog = Watchdog(rank: Int(rank), size: Int(size), host: name)
        // Gathered now: once a rank has stopped, no one can ask it for its name.
        var block = Array(name.utf8.prefix(Self.hostCapacity))
        block += [UInt8](repeating: 0, count: Self.hostCapacity - block.count)
        watchdog.hosts = try allgatherUnchecked(block).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private static let hostCapacity = 256

    /// Seconds any rank waits in one collective before it ends the job with a message naming the ranks
    /// that did not arrive (default 600). Set it to the same value on every rank.
    public var collectiveTimeout: Double {
        get { watchdog.timeout }
        set { watchdog.timeout = newValue }
    }

    /// The largest lag of one rank behind the others in a collective since the last call: known to rank
    /// 0 only (nil elsewhere, and when no collective completed).
    public func takeLargestLag() -> RankLag? { watchdog.takeLargestLag() }

    /// Collective, so only for the success path: every rank must call it before
    /// exiting, or mpirun reports the job as failed. No MPI call may follow it.
    public func finalize() throws {
        guard !watchdog.finalized else { return }
        try barrier()
        try watchdog.settle()
        watchdog.finalized = true
        try MPIError.check(pgmpi_finalize(), "MPI_Finalize")
    }

    public func barrier() throws {
        try run("MPI_Ibarrier", bytes: 0) { pgmpi_start_barrier($0) }
    }

    /// Prints "[rank N] message" to stderr and ends every rank of the job with
    /// a non-zero exit status.
    public func abort(code: Int = 1, message: String) -> Never {
        pgmpi_abort(Int32(clamping: code), message)
    }

    /// Runs `body`; if it throws, aborts the whole job with the error's
    /// description so that no rank is left waiting on this one.
    public func failFast<Value>(_ body: () throws -> Value) -> Value {
        do {
            return try body()
        } catch {
            abort(message: "\(error)")
        }
    }

    /// Copies `root`'s bytes into every other rank's buffer; all buffers must
    /// have the same length.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try run("MPI_Ibcast", bytes: bytes.count) {
            pgmpi_start_broadcast(bytes.baseAddress, bytes.count, Int32(clamping: root), $0)
        }
    }

    /// Replaces every other rank's array with `root`'s, whatever its length.
    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        var length = Int64(bytes.count)
        try withUnsafeMutableBytes(of: &length) { try broadcast($0, root: root) }
        if rank != root {
            bytes = [UInt8](repeating: 0, count: Int(length))
        }
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Replaces each element with its sum over all ranks.
    public func allreduceSum<Element: MPISummable>(_ values: UnsafeMutableBufferPointer<Element>) throws {
        try startAllreduceSum(values).wait()
    }

    public func allreduceSum<Element: MPISummable>(_ values: inout [Element]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }

    /// Starts summing `values` over all ranks and returns at once, so
    /// computation can overlap communication. `values` must stay alive and
    /// untouched until the returned reduction's `wait()` returns; an array's
    /// storage cannot be pinned that long, hence only a buffer overload.
    public func startAllreduceSum<Element: MPISummable>(
        _ values: UnsafeMutableBufferPointer<Element>
    ) throws -> PendingReduction {
        try start("MPI_Iallreduce(sum)", bytes: values.count * MemoryLayout<Element>.stride) {
            Element.mpiStartAllreduceSum(values.baseAddress, count: values.count, request: $0)
        }
    }

    /// Starts summing the signed little-endian integers of `width` bytes (1 to 8) that fill `values`, as
    /// `startAllreduceSum`; the caller makes sure no sum wraps in `width` bytes.
    public func startAllreduceSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingReduction {
        precondition(
            (1...8).contains(width) && values.count % width == 0, "\(values.count) bytes of \(width)-byte integers")
        return try start("MPI_Iallreduce(sum of \(width)-byte integers)", bytes: values.count) {
            pgmpi_start_packed_sum(values.baseAddress, values.count / width, Int32(width), $0)
        }
    }

    /// Replaces each element with its maximum over all ranks.
    public func allreduceMax<Element: MPIMaxReducible>(_ values: UnsafeMutableBufferPointer<Element>) throws {
        try start("MPI_Iallreduce(max)", bytes: values.count * MemoryLayout<Element>.stride) {
            Element.mpiStartAllreduceMax(values.baseAddress, count: values.count, request: $0)
        }.wait()
    }

    public func allreduceMax<Element: MPIMaxReducible>(_ values: inout [Element]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceMax($0) }
    }

    /// Returns every rank's block, indexed by rank. All ranks must pass blocks
    /// of the same length; if they do not, every rank throws.
    public func allgather(bytes block: [UInt8]) throws -> [[UInt8]] {
        try requireSameLengthOnAllRanks(block.count, operation: "allgather")
        return try allgatherUnchecked(block)
    }

    private func allgatherUnchecked(_ block: [UInt8]) throws -> [[UInt8]] {
        var gathered = [UInt8](repeating: 0, count: block.count * size)
        try block.withUnsafeBytes { send in
            try gathered.withUnsafeMutableBytes { receive in
                try run("MPI_Iallgather", bytes: send.count) {
                    pgmpi_start_allgather(send.baseAddress, send.count, receive.baseAddress, $0)
                }
            }
        }
        return (0..<size).map { rank in
            Array(gathered[rank * block.count..<(rank + 1) * block.count])
        }
    }

    /// Starts a collective through `begin` (a shim start function) under the watchdog.
    private func start(
        _ operation: String, bytes: Int, _ begin: (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    ) throws -> PendingReduction {
        let arrival = try watchdog.arrive(operation, bytes: bytes)
        var request: OpaquePointer?
        try MPIError.check(begin(&request), operation)
        return PendingReduction(request: request!, arrival: arrival, watchdog: watchdog)
    }

    /// Runs a collective to completion under the watchdog; the buffers `begin` passes must stay valid
    /// until it returns.
    private func run(
        _ operation: String, bytes: Int, _ begin: (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    )
        throws
    {
        try start(operation, bytes: bytes, begin).wait()
    }

    /// Returns every rank's block, indexed by rank, when blocks may differ in length.
    public func allgather(unevenBytes block: [UInt8]) throws -> [[UInt8]] {
        var lengths = [Int64](repeating: 0, count: size)
        lengths[rank] = Int64(block.count)
        try allreduceSum(&lengths)
        let longest = Int(lengths.max() ?? 0)
        let gathered = try allgather(bytes: block + [UInt8](repeating: 0, count: longest - block.count))
        return gathered.enumerated().map { Array($0.element.prefix(Int(lengths[$0.offset]))) }
    }

    // One max-reduction of (length, -length) yields both the largest and the
    // smallest length, so every rank reaches the same verdict.
    private func requireSameLengthOnAllRanks(_ length: Int, operation: String) throws {
        var extremes = [Int64(length), -Int64(length)]
        try allreduceMax(&extremes)
        let (longest, shortest) = (extremes[0], -extremes[1])
        guard longest == shortest else {
            throw CollectiveMismatchError(
                description: "\(operation): ranks passed blocks of different lengths "
                    + "(\(shortest) to \(longest) bytes; this rank \(length))")
        }
    }
}

extension Communicator {
    /// The algorithm OpenMPI 4.1's libnbc picks for a non-blocking sum of `bytes` over `ranks` ranks (from
    /// its nbc_iallreduce.c), unless `coll_libnbc_iallreduce_algorithm` forces one: binomial reduce and
    /// broadcast (~2·log2(p)·S bytes per rank) under 4 ranks or 64 KiB, otherwise reduce-scatter and
    /// allgather (~2·S). Called out of place, as here; in place it would always be binomial.
    public static func iallreduceAlgorithm(ranks: Int, bytes: Int) -> String {
        let forced = ["1": "ring", "2": "binomial", "3": "reduce-scatter+allgather", "4": "recursive-doubling"]
        if let setting = getenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm").map({ String(cString: $0) }),
            let name = forced[setting]
        {
            return name + " (forced)"
        }
        if ranks < 2 { return "none" }
        return ranks < 4 || bytes < 65536 ? "binomial" : "reduce-scatter+allgather"
    }
}
