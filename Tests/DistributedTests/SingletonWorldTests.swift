import Distributed
import Glibc
import XCTest

/// A process started without mpirun joins MPI as a singleton job: a world of one rank, in which every
/// collective must hand back this rank's own values, untouched. `progan` relies on that for runs on one
/// process; sums and gathers over several ranks are checked by mpi-check under mpirun.
final class SingletonWorldTests: XCTestCase {
    private var world: Communicator!

    override func setUpWithError() throws {
        try super.setUpWithError()
        world = try Communicator.world()
    }

    func testAProcessWithoutMPIRunIsRankZeroOfOne() throws {
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertTrue(try Communicator.world() === world, "MPI is initialised once per process")
        var host = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(gethostname(&host, host.count), 0)
        // OpenMPI names the node by its host name, without the domain part.
        XCTAssertFalse(world.processorName.isEmpty)
        XCTAssertTrue(String(cString: host).hasPrefix(world.processorName), world.processorName)
        XCTAssertNoThrow(try world.barrier())
    }

    func testSumsAndMaximaOfOneRankAreItsOwnValues() throws {
        let floats: [Float] = [1.5, -0.1, .leastNonzeroMagnitude, 3e38]
        let doubles: [Double] = [0.1, -1e300, 1 + .ulpOfOne, .leastNonzeroMagnitude]
        let int64s: [Int64] = [(1 << 62) + 1, -(1 << 53) - 1, .max, .min]
        var (floatSums, doubleSums, int64Sums) = (floats, doubles, int64s)
        try world.allreduceSum(&floatSums)
        try world.allreduceSum(&doubleSums)
        try world.allreduceSum(&int64Sums)
        XCTAssertEqual(floatSums, floats)
        XCTAssertEqual(doubleSums, doubles)
        XCTAssertEqual(int64Sums, int64s)

        var (doubleMaxima, int64Maxima) = (doubles, int64s)
        try world.allreduceMax(&doubleMaxima)
        try world.allreduceMax(&int64Maxima)
        XCTAssertEqual(doubleMaxima, doubles)
        XCTAssertEqual(int64Maxima, int64s)

        var empty: [Double] = []
        try world.allreduceSum(&empty)
        XCTAssertEqual(empty, [])
    }

    func testNonBlockingSumsCompleteOnWaitOrWhenDropped() throws {
        let values = (0..<10_000).map { Float($0) * 0.25 - 7 }
        var waited = values, dropped = values
        try waited.withUnsafeMutableBufferPointer { buffer in
            let reduction = try world.startAllreduceSum(buffer)
            try reduction.wait()
            XCTAssertNoThrow(try reduction.wait(), "a second wait returns at once")
        }
        // Dropped without wait(): its deinit completes it before the buffer can go.
        try dropped.withUnsafeMutableBufferPointer { _ = try world.startAllreduceSum($0) }
        XCTAssertEqual(waited, values)
        XCTAssertEqual(dropped, values)
    }

    func testBroadcastFromTheOnlyRankKeepsItsBytes() throws {
        let pattern = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var fixedSize = pattern
        try fixedSize.withUnsafeMutableBytes { try world.broadcast($0, root: 0) }
        XCTAssertEqual(fixedSize, pattern)
        for message in [pattern, []] {
            var broadcast = message
            try world.broadcast(&broadcast, root: 0)
            XCTAssertEqual(broadcast, message)
        }
    }

    func testAllgatherReturnsTheOneBlock() throws {
        let block: [UInt8] = [9, 8, 7, 0, 255]
        XCTAssertEqual(try world.allgather(bytes: block), [block])
        XCTAssertEqual(try world.allgather(bytes: []), [[]])
        XCTAssertEqual(try world.allgather(unevenBytes: block), [block])
        XCTAssertEqual(try world.allgather(unevenBytes: []), [[]])
    }

    func testFailFastPassesASucceedingBodysValueThrough() {
        // The failing path ends the job through MPI_Abort; scripts/test.sh checks it under mpirun.
        XCTAssertEqual(world.failFast { "done" }, "done")
    }
}
