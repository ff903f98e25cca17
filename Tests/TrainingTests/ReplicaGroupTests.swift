import Distributed
import Engine
import Foundation
import Model
import XCTest
@testable import Training

/// The replica protocol run in one process: the leader's side records what it sends, and a follower's
/// side receives exactly those bytes, as MPI would deliver them.
final class ReplicaGroupTests: XCTestCase {
    private var recipe: TrainingRecipe {
        var recipe = TrainingConfig.tiny.recipe
        recipe.network = NetworkConfig(resolution: 8, fmapBase: 32, fmapMax: 8, latentSize: 8)
        return recipe
    }

    private func values(_ store: ParameterStore) -> [Float] {
        Array(UnsafeBufferPointer(start: store.values.pointer, count: store.count))
    }

    /// A follower whose weights and counters differ (another seed, a skewed image count) ends up with the
    /// leader's weights, optimizer steps and counters.
    func testFollowerAdoptsTheLeadersReplica() throws {
        let leader = Replica(recipe)
        leader.progress = Progress(step: 7, imagesShown: 56, dataPosition: 56, resolution: 8, phase: .fadeIn)
        let wire = Wire()
        try ReplicaGroup(Leader(wire: wire)).synchronize(leader)

        var otherSeed = recipe
        otherSeed.seed += 1
        let follower = Replica(otherSeed)
        follower.progress = Progress(step: 7, imagesShown: 4056, dataPosition: 56, resolution: 8, phase: .fadeIn)
        XCTAssertNotEqual(values(follower.generatorWeights), values(leader.generatorWeights))
        try ReplicaGroup(Follower(wire: wire)).synchronize(follower)
        XCTAssertEqual(follower.progress, leader.progress)
        for (mine, theirs) in zip(follower.buffers, leader.buffers) {
            XCTAssertEqual(
                Array(UnsafeBufferPointer(start: mine.buffer.pointer, count: mine.buffer.count)),
                Array(UnsafeBufferPointer(start: theirs.buffer.pointer, count: theirs.buffer.count)),
                mine.section.rawValue)
        }
    }

    /// A stop requested on any rank, not only on the leader, stops every rank.
    func testAStopRequestOnAnyRankCounts() throws {
        for (here, peer) in [(false, false), (false, true), (true, false), (true, true)] {
            XCTAssertEqual(
                try ReplicaGroup(PeerRequests(peerRequests: peer)).anyRankRequestsStop(here), here || peer,
                "here \(here), on the other rank \(peer)")
        }
    }

    /// Replicas that drift apart are caught by the agreement hash, naming the rank that differs.
    func testDivergedReplicaIsNamed() throws {
        let leader = Replica(recipe)
        let wire = Wire()
        try ReplicaGroup(Leader(wire: wire)).verifyAgreement(leader)
        try ReplicaGroup(Follower(wire: wire)).verifyAgreement(Replica(recipe))

        var otherSeed = recipe
        otherSeed.seed += 1
        try ReplicaGroup(Leader(wire: wire)).verifyAgreement(leader)
        XCTAssertThrowsError(try ReplicaGroup(Follower(wire: wire)).verifyAgreement(Replica(otherSeed))) {
            XCTAssertEqual(
                "\($0)", "replicas diverged by step 0: the weights or counters of rank 1 differ from rank 0's")
        }
    }

    /// Ranks that built different networks are told which parameter differs.
    func testDifferentLayoutsAreNamed() throws {
        let wire = Wire()
        XCTAssertThrowsError(try ReplicaGroup(Leader(wire: wire, peerDiffers: true)).synchronize(Replica(recipe))) {
            XCTAssertEqual("\($0)", "rank 1 built networks that differ from rank 0's")
        }
        var wider = recipe
        wider.network.fmapMax = 16
        XCTAssertThrowsError(try ReplicaGroup(Follower(wire: wire)).synchronize(Replica(wider))) {
            XCTAssertTrue("\($0)".hasPrefix("the networks built here differ from rank 0's: here 'g."), "\($0)")
        }
    }
}

/// What the leader sent, in order.
private final class Wire {
    var messages: [[UInt8]] = []
}

/// Rank 0 of two whose peer's stop request is `peerRequests`: sums add it, as MPI would.
private struct PeerRequests: ScriptedRank {
    let peerRequests: Bool
    var rank: Int { 0 }
    func sum(_ values: inout [Double]) throws { values[0] += peerRequests ? 1 : 0 }
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    func allgather(bytes: [UInt8]) throws -> [[UInt8]] { [bytes, bytes] }
}

/// Two ranks whose only traffic is what the replica protocol sends; sums are never reached by it.
private protocol ScriptedRank: Collective {}

extension ScriptedRank {
    var size: Int { 2 }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    func sum(_ values: UnsafeMutableBufferPointer<Int64>) throws {}
    func sum(_ values: inout [Double]) throws {}
    func max(_ values: inout [Int64]) throws {}
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum { fatalError("not used") }
    func startSum(_ values: UnsafeMutableBufferPointer<Int64>) throws -> PendingSum { fatalError("not used") }
    func startSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingSum {
        fatalError("not used")
    }
    func allgather(unevenBytes: [UInt8]) throws -> [[UInt8]] { try allgather(bytes: unevenBytes) }
    func barrier() throws {}
}

/// Rank 0 of two: records its broadcasts and its allgather blocks. Rank 1's blocks are the leader's own,
/// or, with `peerDiffers`, their complement.
private struct Leader: ScriptedRank {
    let wire: Wire
    var peerDiffers = false
    var rank: Int { 0 }
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws { wire.messages.append(Array(bytes)) }
    func allgather(bytes: [UInt8]) throws -> [[UInt8]] {
        wire.messages.append(bytes)
        return [bytes, peerDiffers ? bytes.map { ~$0 } : bytes]
    }
}

/// Rank 1 of two: receives what the leader recorded, in the same order.
private struct Follower: ScriptedRank {
    let wire: Wire
    var rank: Int { 1 }
    private func next() -> [UInt8] { wire.messages.removeFirst() }
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        let message = next()
        precondition(message.count == bytes.count, "broadcast of \(bytes.count) bytes, leader sent \(message.count)")
        bytes.copyBytes(from: message)
    }
    func allgather(bytes: [UInt8]) throws -> [[UInt8]] { [next(), bytes] }
}
