// Verifies the collectives of `Communicator` on however many ranks mpirun
// starts. Every rank computes every expected value itself, so a mismatch on
// any rank aborts the whole job with a message naming that rank.
//
//   mpirun -np 2 mpi-check                    checks the collectives
//   mpirun -np 2 mpi-check --fail-on-rank R   rank R fails on purpose; the job
//                                             must end through MPI_Abort
//   mpirun -np 2 mpi-check --stop-rank R      rank R stops itself (SIGSTOP) before a
//                                             barrier; the watchdog must end the job
//                                             within 3 s (the collective timeout), naming R
//   mpirun -np 4 mpi-check --bench-allreduce N  times sums of N int64 values, then of N packed 4- to
//                                             7-byte ones (the gradient reduction of deterministic
//                                             mode): median ms
import Dispatch
import Distributed
import Glibc

struct CheckFailure: Error, CustomStringConvertible {
    let description: String
}

struct Checker {
    private(set) var passed = 0

    mutating func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        guard condition else { throw CheckFailure(description: "mpi-check failed: \(what())") }
        passed += 1
    }

    /// For collectives whose only observable result is returning without error.
    mutating func expectSucceeds(_ operation: () throws -> Void) rethrows {
        try operation()
        passed += 1
    }
}

enum Mode {
    case checkCollectives
    case failOnRank(Int)
    case stopRank(Int)
    case benchAllreduce(Int)

    init?(arguments: [String]) {
        if arguments.isEmpty {
            self = .checkCollectives
            return
        }
        guard arguments.count == 2, let rank = Int(arguments[1]) else { return nil }
        switch arguments[0] {
        case "--fail-on-rank": self = .failOnRank(rank)
        case "--stop-rank": self = .stopRank(rank)
        case "--bench-allreduce" where rank > 0: self = .benchAllreduce(rank)
        default: return nil
        }
    }
}

guard let mode = Mode(arguments: Array(CommandLine.arguments.dropFirst())) else {
    fputs("usage: mpi-check [--fail-on-rank RANK | --stop-rank RANK | --bench-allreduce VALUES]\n", stderr)
    exit(2)
}

func checkCollectives(_ world: Communicator, _ checker: inout Checker) throws {
    let rank = world.rank
    let size = world.size
    // Sum over ranks of (rank + 1): the closed form every sum below builds on.
    let rankPlusOneSum = size * (size + 1) / 2

    try checker.expect((0..<size).contains(rank), "rank \(rank) outside 0..<\(size)")
    try checker.expect(!world.processorName.isEmpty, "empty processor name")

    // Large enough to leave OpenMPI's small-message algorithms; all values are
    // integers below 2^24, so Float sums are exact.
    var floats = (0..<(1 << 20)).map { Float((rank + 1) * ($0 % 1000 + 1)) }
    try world.allreduceSum(&floats)
    try checker.expect(
        floats.indices.allSatisfy { floats[$0] == Float(rankPlusOneSum * ($0 % 1000 + 1)) },
        "float allreduce-sum")

    var doubles = (0..<1000).map { Double(rank) + 0.5 * Double($0) }
    try world.allreduceSum(&doubles)
    try checker.expect(
        doubles.indices.allSatisfy {
            doubles[$0] == Double(rankPlusOneSum - size) + Double(size) * 0.5 * Double($0)
        },
        "double allreduce-sum")

    // Values beyond 2^32 catch a reduction done in 32-bit integers.
    let int64Base: Int64 = 1 << 40
    var int64s = (0..<1000).map { int64Base * Int64(rank + 1) + Int64($0) }
    try world.allreduceSum(&int64s)
    try checker.expect(
        int64s.indices.allSatisfy {
            int64s[$0] == int64Base * Int64(rankPlusOneSum) + Int64(size) * Int64($0)
        },
        "int64 allreduce-sum")

    try checkNonBlockingSums(world, &checker)
    try checkPackedSums(world, &checker)

    var doubleMaxima = (0..<100).map { Double(rank) * 1.5 - Double($0) }
    try world.allreduceMax(&doubleMaxima)
    try checker.expect(
        doubleMaxima.indices.allSatisfy { doubleMaxima[$0] == Double(size - 1) * 1.5 - Double($0) },
        "double allreduce-max")

    // Odd elements peak on rank 0, even ones on the last rank.
    var int64Maxima = (0..<100).map { $0 % 2 == 0 ? Int64(rank) * 7 : -Int64(rank) }
    try world.allreduceMax(&int64Maxima)
    try checker.expect(
        int64Maxima.indices.allSatisfy { int64Maxima[$0] == ($0 % 2 == 0 ? Int64(size - 1) * 7 : 0) },
        "int64 allreduce-max")

    for root in Set([0, size - 1]).sorted() {
        let rootPattern = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 31 + root) }
        var buffer = rank == root ? rootPattern : [UInt8](repeating: 0, count: rootPattern.count)
        try buffer.withUnsafeMutableBytes { try world.broadcast($0, root: root) }
        try checker.expect(buffer == rootPattern, "broadcast of a fixed-size buffer from rank \(root)")

        // Non-root ranks start with a different length, which the array overload must fix.
        var message = rank == root ? Array("from rank \(root)".utf8) : []
        try world.broadcast(&message, root: root)
        try checker.expect(message == Array("from rank \(root)".utf8), "array broadcast from rank \(root)")
    }

    let blocks = try world.allgather(bytes: blockContributed(by: rank))
    try checker.expect(
        blocks == (0..<size).map(blockContributed(by:)), "allgather of 8-byte blocks")
    if size > 1 {
        try checker.expect(
            allgatherRejectsUnequalBlocks(world), "allgather with rank-dependent block lengths throws")
    }

    try checker.expectSucceeds { try world.barrier() }
    try checkLagIsReported(world, &checker)
}

/// The last rank arrives 0.3 s late at a barrier: rank 0 must name it as the slowest, with about that lag.
/// Waiting times reach rank 0 with each rank's next arrival, hence the barriers that follow.
func checkLagIsReported(_ world: Communicator, _ checker: inout Checker) throws {
    guard world.size > 1 else { return }
    try world.barrier()
    _ = world.takeLargestLag()
    if world.rank == world.size - 1 { usleep(300_000) }
    for _ in 0..<3 { try world.barrier() }
    let lag = world.takeLargestLag()
    if world.rank == 0 {
        try checker.expect(
            lag?.rank == world.size - 1 && (0.25..<3).contains(lag?.seconds ?? 0),
            "the late rank \(world.size - 1) named as lagging 0.3 s: \(String(describing: lag))")
    } else {
        try checker.expect(lag == nil, "a rank other than 0 knows no lag")
    }
}

func blockContributed(by rank: Int) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: rank * 16 + $0) }
}

func allgatherRejectsUnequalBlocks(_ world: Communicator) throws -> Bool {
    do {
        _ = try world.allgather(bytes: [UInt8](repeating: 0, count: world.rank + 1))
        return false
    } catch is CollectiveMismatchError {
        return true
    }
}

// A blocking collective runs while the non-blocking ones are in flight, as it
// will when gradients are reduced during the backward pass.
/// Sums of signed integers of 1 to 8 bytes (the fixed-point transports): magnitudes near the largest that
/// cannot wrap over the world, alternating in sign, so a carry lost between bytes or a sign not extended
/// shows.
func checkPackedSums(_ world: Communicator, _ checker: inout Checker) throws {
    let rankPlusOneSum = Int64(world.size * (world.size + 1) / 2)
    for width in 1...8 {
        let largest = Int64.max >> (64 - 8 * width)  // 2^(8·width - 1) - 1
        let magnitudes = (0..<1000).map { j in (largest / rankPlusOneSum) >> (j % 3) * (j % 2 == 0 ? 1 : -1) }
        var bytes = [UInt8](repeating: 0, count: width * magnitudes.count)
        for (j, magnitude) in magnitudes.enumerated() {
            withUnsafeBytes(of: (magnitude * Int64(world.rank + 1)).littleEndian) {
                bytes.replaceSubrange(width * j..<width * (j + 1), with: $0.prefix(width))
            }
        }
        try bytes.withUnsafeMutableBytes { try world.startAllreduceSum(packed: $0, width: width).wait() }
        let sums = magnitudes.indices.map { j in
            var word: UInt64 = 0
            withUnsafeMutableBytes(of: &word) { $0.copyBytes(from: bytes[width * j..<width * (j + 1)]) }
            let unused = 64 - 8 * width
            return Int64(bitPattern: UInt64(littleEndian: word) << unused) >> unused
        }
        try checker.expect(
            sums == magnitudes.map { $0 * rankPlusOneSum }, "allreduce-sum of \(width)-byte integers")
    }
}

func checkNonBlockingSums(_ world: Communicator, _ checker: inout Checker) throws {
    let rank = world.rank
    let rankPlusOneSum = world.size * (world.size + 1) / 2
    var floats = [Float](repeating: Float(rank + 1), count: 100_000)
    var doubles = [Double](repeating: Double(rank + 1) / 4, count: 1000)
    var int64s = [Int64](repeating: Int64(rank + 1) << 33, count: 1000)
    var interleaved = [Int64(rank + 1)]
    try floats.withUnsafeMutableBufferPointer { floatBuffer in
        try doubles.withUnsafeMutableBufferPointer { doubleBuffer in
            try int64s.withUnsafeMutableBufferPointer { int64Buffer in
                let pending = [
                    try world.startAllreduceSum(floatBuffer),
                    try world.startAllreduceSum(doubleBuffer),
                    try world.startAllreduceSum(int64Buffer),
                ]
                try world.allreduceSum(&interleaved)
                for reduction in pending {
                    try reduction.wait()
                }
            }
        }
    }
    try checker.expect(floats.allSatisfy { $0 == Float(rankPlusOneSum) }, "non-blocking float sum")
    try checker.expect(
        doubles.allSatisfy { $0 == Double(rankPlusOneSum) / 4 }, "non-blocking double sum")
    try checker.expect(
        int64s.allSatisfy { $0 == Int64(rankPlusOneSum) << 33 }, "non-blocking int64 sum")
    try checker.expect(
        interleaved == [Int64(rankPlusOneSum)], "blocking sum while non-blocking sums are pending")
}

let world: Communicator
do {
    world = try Communicator.world()
} catch {
    fputs("mpi-check: \(error)\n", stderr)
    exit(1)
}

world.failFast {
    switch mode {
    case .failOnRank(let failingRank):
        guard (0..<world.size).contains(failingRank) else {
            throw CheckFailure(
                description: "--fail-on-rank \(failingRank): no such rank in a job of \(world.size)")
        }
        if world.rank == failingRank {
            throw CheckFailure(description: "mpi-check: failing on purpose (--fail-on-rank \(failingRank))")
        }
        // The healthy ranks wait where a real job would be stuck: in a collective.
        try world.barrier()
        throw CheckFailure(description: "mpi-check: barrier returned although rank \(failingRank) failed")
    case .stopRank(let stoppedRank):
        guard (0..<world.size).contains(stoppedRank) else {
            throw CheckFailure(description: "--stop-rank \(stoppedRank): no such rank in a job of \(world.size)")
        }
        world.collectiveTimeout = 3
        try world.barrier()
        if world.rank == stoppedRank { raise(SIGSTOP) }
        try world.barrier()
        throw CheckFailure(description: "mpi-check: barrier returned although rank \(stoppedRank) stopped")
    case .benchAllreduce(let count):
        let values = UnsafeMutableBufferPointer<Int64>.allocate(capacity: count)
        defer { values.deallocate() }
        values.initialize(repeating: Int64(world.rank))
        // int64 as MPI sums it, then the fixed-point transports' packed widths over the same values' memory.
        for width in [0, 4, 5, 6, 7] {
            let packed = UnsafeMutableRawBufferPointer(start: values.baseAddress, count: count * width)
            var seconds: [Double] = []
            for _ in 0..<25 {
                try world.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                try
                    (width == 0
                    ? world.startAllreduceSum(values) : world.startAllreduceSum(packed: packed, width: width)).wait()
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let median = seconds.sorted()[seconds.count / 2]
            if world.rank == 0 {
                let milliseconds = (median * 1e6).rounded() / 1000
                let bytes = count * (width == 0 ? 8 : width)
                let algorithm = Communicator.iallreduceAlgorithm(ranks: world.size, bytes: bytes)
                let what = width == 0 ? "int64" : "\(width)-byte packed"
                print(
                    "allreduce of \(bytes) bytes (\(what)) on \(world.size) ranks: "
                        + "median \(milliseconds) ms; \(algorithm)"
                )
            }
        }
        try world.finalize()
    case .checkCollectives:
        var checker = Checker()
        try checkCollectives(world, &checker)
        if world.rank == 0 {
            print("mpi-check: \(checker.passed) checks passed on \(world.size) ranks")
        }
        try world.finalize()
    }
}
