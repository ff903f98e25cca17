import Distributed

/// What the trainer needs from the other ranks. `Communicator` provides it over MPI; `SingleProcess`
/// is the trivial group of one, for tests and tools that never start MPI.
public protocol Collective {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values` by their sum over all ranks.
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func sum(_ values: inout [Double]) throws
    /// Replaces root's bytes on every other rank.
    func broadcast(_ bytes: inout [UInt8], root: Int) throws
}

public struct SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func sum(_ values: inout [Double]) throws {}
    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {}
}

extension Communicator: Collective {
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws { try allreduceSum(values) }
    public func sum(_ values: inout [Double]) throws { try allreduceSum(&values) }
}

extension Collective {
    /// Replaces `values` by their mean over all ranks.
    func average(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try sum(values)
        guard size > 1 else { return }
        let factor = 1 / Float(size)
        for i in values.indices { values[i] *= factor }
    }
}
