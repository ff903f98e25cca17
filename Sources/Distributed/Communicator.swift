import MPIShim

/// All ranks of the job (MPI_COMM_WORLD), seen from this process.
///
/// Collective methods must be called by every rank in the same order with
/// matching arguments. A rank that cannot continue must end the whole job with
/// `abort(code:message:)` (or `failFast`): returning or exiting alone would
/// leave the other ranks blocked in their next collective.
public final class Communicator: Sendable {
    public let rank: Int
    public let size: Int
    public let processorName: String

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
        let name = stringFromC(capacity: 256) { nameStatus = pgmpi_processor_name($0, $1) }
        try MPIError.check(nameStatus, "MPI_Get_processor_name")
        self.rank = Int(rank)
        self.size = Int(size)
        self.processorName = name
    }

    /// Collective, so only for the success path: every rank must call it before
    /// exiting, or mpirun reports the job as failed. No MPI call may follow it.
    public func finalize() throws {
        try MPIError.check(pgmpi_finalize(), "MPI_Finalize")
    }

    public func barrier() throws {
        try MPIError.check(pgmpi_barrier(), "MPI_Barrier")
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
        try MPIError.check(
            pgmpi_broadcast_bytes(bytes.baseAddress, bytes.count, Int32(clamping: root)), "MPI_Bcast")
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
        try MPIError.check(
            Element.mpiAllreduceSum(values.baseAddress, count: values.count), "MPI_Allreduce(sum)")
    }

    public func allreduceSum<Element: MPISummable>(_ values: inout [Element]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }

    /// Starts summing `values` over all ranks in place and returns at once, so
    /// computation can overlap communication. `values` must stay alive and
    /// untouched until the returned reduction's `wait()` returns; an array's
    /// storage cannot be pinned that long, hence only a buffer overload.
    public func startAllreduceSum<Element: MPISummable>(
        _ values: UnsafeMutableBufferPointer<Element>
    ) throws -> PendingReduction {
        var request: OpaquePointer?
        try MPIError.check(
            Element.mpiStartAllreduceSum(values.baseAddress, count: values.count, request: &request),
            "MPI_Iallreduce(sum)")
        return PendingReduction(request: request!)
    }

    /// Replaces each element with its maximum over all ranks.
    public func allreduceMax<Element: MPIMaxReducible>(_ values: UnsafeMutableBufferPointer<Element>) throws {
        try MPIError.check(
            Element.mpiAllreduceMax(values.baseAddress, count: values.count), "MPI_Allreduce(max)")
    }

    public func allreduceMax<Element: MPIMaxReducible>(_ values: inout [Element]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceMax($0) }
    }

    /// Returns every rank's block, indexed by rank. All ranks must pass blocks
    /// of the same length; if they do not, every rank throws.
    public func allgather(bytes block: [UInt8]) throws -> [[UInt8]] {
        try requireSameLengthOnAllRanks(block.count, operation: "allgather")
        var gathered = [UInt8](repeating: 0, count: block.count * size)
        try block.withUnsafeBytes { send in
            try gathered.withUnsafeMutableBytes { receive in
                try MPIError.check(
                    pgmpi_allgather_bytes(send.baseAddress, send.count, receive.baseAddress),
                    "MPI_Allgather")
            }
        }
        return (0..<size).map { rank in
            Array(gathered[rank * block.count..<(rank + 1) * block.count])
        }
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
