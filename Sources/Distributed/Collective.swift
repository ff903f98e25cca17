/// What computations spread over ranks need from the other ranks: sums, broadcasts, gathers and a
/// barrier. `Communicator` provides it over MPI; `SingleProcess` is the trivial group of one, for tests
/// and tools that never start MPI. Starting, aborting and finalizing the job stay with `Communicator`.
public protocol Collective {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values` by their sum over all ranks.
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func sum(_ values: UnsafeMutableBufferPointer<Int64>) throws
    func sum(_ values: inout [Double]) throws
    /// Replaces `values` by their maximum over all ranks.
    func max(_ values: inout [Int64]) throws
    /// Starts replacing `values` by their sum over all ranks; the buffer must stay untouched until the
    /// returned reduction's `wait()`.
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum
    func startSum(_ values: UnsafeMutableBufferPointer<Int64>) throws -> PendingSum
    /// Starts summing the signed little-endian integers of `width` bytes (1 to 8) that fill `values`; no
    /// sum may wrap in `width` bytes.
    func startSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingSum
    /// Replaces every other rank's bytes with root's; all buffers have the same length.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Every rank's block, indexed by rank; all blocks have the same length.
    func allgather(bytes: [UInt8]) throws -> [[UInt8]]
    /// Every rank's block, indexed by rank, when blocks may differ in length.
    func allgather(unevenBytes: [UInt8]) throws -> [[UInt8]]
    func barrier() throws
    /// The largest lag of one rank behind the others in a collective since the last call, where known
    /// (rank 0 of an MPI job).
    func takeLargestLag() -> RankLag?
}

/// A reduction in flight.
public protocol PendingSum {
    func wait() throws
    /// Lets MPI move the reduction on without blocking and tells whether it has completed. OpenMPI
    /// progresses non-blocking collectives only inside MPI calls, so computation that overlaps one
    /// should call this now and then.
    func progress() throws -> Bool
}

extension PendingReduction: PendingSum {}

/// A reduction over one rank, complete as soon as it starts.
struct CompletedSum: PendingSum {
    func wait() throws {}
    func progress() throws -> Bool { true }
}

public struct SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func sum(_ values: UnsafeMutableBufferPointer<Int64>) throws {}
    public func sum(_ values: inout [Double]) throws {}
    public func max(_ values: inout [Int64]) throws {}
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum { CompletedSum() }
    public func startSum(_ values: UnsafeMutableBufferPointer<Int64>) throws -> PendingSum { CompletedSum() }
    public func startSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingSum {
        CompletedSum()
    }
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func allgather(bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func allgather(unevenBytes: [UInt8]) throws -> [[UInt8]] { [unevenBytes] }
    public func barrier() throws {}
}

extension Communicator: Collective {
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws { try allreduceSum(values) }
    public func sum(_ values: UnsafeMutableBufferPointer<Int64>) throws { try allreduceSum(values) }
    public func sum(_ values: inout [Double]) throws { try allreduceSum(&values) }
    public func max(_ values: inout [Int64]) throws { try allreduceMax(&values) }
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum {
        try startAllreduceSum(values)
    }
    public func startSum(_ values: UnsafeMutableBufferPointer<Int64>) throws -> PendingSum {
        try startAllreduceSum(values)
    }
    public func startSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingSum {
        try startAllreduceSum(packed: values, width: width)
    }
}

extension Collective {
    public func takeLargestLag() -> RankLag? { nil }

    /// Replaces every other rank's values with root's.
    public func broadcast(_ values: inout [Int64], root: Int) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Every rank's `values`, indexed by rank (all ranks pass the same number of values).
    public func allgather(_ values: [Double]) throws -> [[Double]] {
        try allgather(bytes: values.withUnsafeBytes { Array($0) }).map { block in
            block.withUnsafeBytes { bytes in
                values.indices.map { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
            }
        }
    }
}
