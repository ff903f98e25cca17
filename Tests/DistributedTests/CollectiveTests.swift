import Distributed
import XCTest

/// `Collective` as training code sees it, over both groups of one: `SingleProcess`, which never starts
/// MPI, and the singleton MPI world. Whichever a tool runs on, it must see the same values.
final class CollectiveTests: XCTestCase {
    private func groupsOfOne() throws -> [(name: String, group: Collective)] {
        [("SingleProcess", SingleProcess()), ("Communicator", try Communicator.world())]
    }

    /// The Double gather travels as bytes: every bit pattern, signed zero, infinities and NaN included,
    /// must come back as it went.
    func testGatheredDoublesKeepTheirBitPatterns() throws {
        let values: [Double] = [-0.0, .infinity, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, .nan, 1 / 3]
        for (name, group) in try groupsOfOne() {
            let gathered = try group.allgather(values)
            XCTAssertEqual(gathered.count, 1, name)
            XCTAssertEqual(gathered.first?.map(\.bitPattern), values.map(\.bitPattern), name)
            XCTAssertEqual(try group.allgather([Double]()), [[]], name)
        }
    }

    func testSumsBroadcastsAndGathersOfOneRankKeepItsValues() throws {
        for (name, group) in try groupsOfOne() {
            XCTAssertEqual([group.rank, group.size], [0, 1], name)
            var floats: [Float] = [0.5, -3, 1e-30], int64s: [Int64] = [1 << 60, -7], doubles = [0.1, -2.5]
            try floats.withUnsafeMutableBufferPointer { try group.sum($0) }
            try int64s.withUnsafeMutableBufferPointer { try group.startSum($0).wait() }
            try group.sum(&doubles)
            XCTAssertEqual(floats, [0.5, -3, 1e-30], name)
            XCTAssertEqual(int64s, [1 << 60, -7], name)
            XCTAssertEqual(doubles, [0.1, -2.5], name)

            var counters: [Int64] = [12, -1, .max]
            try group.broadcast(&counters, root: 0)
            XCTAssertEqual(counters, [12, -1, .max], name)
            XCTAssertEqual(try group.allgather(unevenBytes: [4, 5, 6]), [[4, 5, 6]], name)
            XCTAssertNoThrow(try group.barrier(), name)
        }
    }
}
