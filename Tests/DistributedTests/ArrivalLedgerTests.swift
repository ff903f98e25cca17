import XCTest

@testable import Distributed

/// Rank 0's bookkeeping of the watchdog, fed notes by hand: the verdict it gives when a collective does
/// not complete, whom it tells that rank 0 has arrived, and the lag it reports. What runs across
/// processes (notes, MPI_Abort, SIGSTOP) is checked by mpi-check and scripts/checks/watchdog.sh.
final class ArrivalLedgerTests: XCTestCase {
    private let hosts = ["head", "node-a", "node-b", "node-c"]
    private let second: UInt64 = 1_000_000_000

    private func arrival(_ sequence: Int64, time: Int64 = 0, stall: Int64 = 0) -> WatchdogNote {
        WatchdogNote(kind: .arrival, sequence: sequence, time: time, stall: stall)
    }

    func testNotesSurviveTheirWordsAndUnknownWordsAreRefused() {
        let note = arrival(17, time: 1_764_000_000_123_456_789, stall: 3)
        XCTAssertEqual(WatchdogNote(words: note.words), note)
        XCTAssertNil(WatchdogNote(words: [9, 1, 0, 0]), "an unknown kind")
        XCTAssertNil(WatchdogNote(words: [1, -4, 0, 0]), "a negative collective number")
        XCTAssertNil(WatchdogNote(words: [1, 4, 0, -1]), "a negative stall")
        XCTAssertNil(WatchdogNote(words: [1, 4, 0]), "a short note")
    }

    func testTheRanksThatDidNotArriveAreNamedWithTheirHosts() {
        var ledger = ArrivalLedger(size: 4, now: 0)
        for rank in [0, 2] { ledger.record(arrival(5), from: rank, at: second) }
        ledger.record(arrival(4), from: 1, at: second)
        ledger.record(arrival(3), from: 3, at: second)
        XCTAssertEqual(
            ledger.verdict(sequence: 5, now: 2 * second, silence: 10 * second, hosts: hosts),
            "2 ranks did not arrive: rank 1 (node-a): last at collective 4, rank 3 (node-c): last at collective 3")
    }

    /// A rank that arrived and then stopped keeps the others from completing without being late: it is
    /// the one that has not been heard from, while the ranks that still wait say so.
    func testARankThatArrivedAndFellSilentIsNamed() {
        var ledger = ArrivalLedger(size: 3, now: 0)
        for rank in 0..<3 { ledger.record(arrival(8), from: rank, at: second) }
        ledger.record(WatchdogNote(kind: .stillWaiting, sequence: 8), from: 2, at: 6 * second)
        XCTAssertEqual(
            ledger.verdict(sequence: 8, now: 7 * second, silence: 3 * second, hosts: hosts),
            "1 rank arrived but stopped responding (stopped or hung): rank 1 (node-a)")
        ledger.record(WatchdogNote(kind: .stillWaiting, sequence: 8), from: 1, at: 7 * second)
        XCTAssertTrue(
            ledger.verdict(sequence: 8, now: 7 * second, silence: 3 * second, hosts: hosts)
                .hasPrefix("every rank arrived and still responds"))
    }

    func testLongListsOfRanksAreCut() {
        let ledger = ArrivalLedger(size: 40, now: 0)
        let verdict = ledger.verdict(sequence: 1, now: 0, silence: 1, hosts: [])
        XCTAssertTrue(verdict.hasPrefix("40 ranks did not arrive: rank 0 (?): last at collective 0, "), verdict)
        XCTAssertTrue(verdict.hasSuffix("rank 15 (?): last at collective 0 and 24 more"), verdict)
    }

    /// Rank 0 tells a rank where it stands once the rank has arrived somewhere it has not been told of,
    /// and only with news: the same position is never told twice.
    func testRanksLearnRankZerosPositionOncePerNewPosition() {
        var ledger = ArrivalLedger(size: 3, now: 0)
        XCTAssertEqual(ledger.ranksToTell(position: 1), [])
        ledger.record(arrival(2), from: 1, at: 0)
        XCTAssertEqual(ledger.ranksToTell(position: 1), [1], "rank 0 is behind rank 1, which must learn it")
        ledger.told(1, position: 1)
        XCTAssertEqual(ledger.ranksToTell(position: 1), [])
        ledger.record(arrival(2), from: 2, at: 0)
        XCTAssertEqual(ledger.ranksToTell(position: 2), [1, 2])
        ledger.told(1, position: 2)
        ledger.told(2, position: 2)
        XCTAssertEqual(ledger.ranksToTell(position: 3), [], "no rank has arrived beyond what it was told")
    }

    /// The lag of a collective runs from the first rank's arrival to the last's, which it names; it is
    /// known once every rank's arrival is in, and forgotten once taken.
    func testTheLargestLagNamesTheLastRankToArrive() {
        var ledger = ArrivalLedger(size: 3, now: 0)
        let base: Int64 = 1_764_000_000_000_000_000
        ledger.record(arrival(4, time: base + 900_000_000), from: 0, at: 0)
        ledger.record(arrival(4, time: base), from: 1, at: 0)
        XCTAssertNil(ledger.takeLargestLag(hosts: hosts), "rank 2's arrival is not in yet")
        ledger.record(arrival(4, time: base + 1_000_000_000), from: 2, at: 0)
        for (rank, delay) in [(0, 2_050_000_000), (1, 2_010_000_000), (2, 2_400_000_000)] {
            ledger.record(arrival(5, time: base + Int64(delay)), from: rank, at: 0)
        }
        XCTAssertEqual(ledger.takeLargestLag(hosts: hosts), RankLag(rank: 2, host: "node-b", seconds: 1))
        XCTAssertNil(ledger.takeLargestLag(hosts: hosts))
    }

    /// A rank stopped inside a collective it arrived at in time holds everyone up without arriving late:
    /// it tells of the gap between its polls with its next arrival, and that counts as its lag.
    func testAStallInsideAWaitCountsAsLag() {
        var ledger = ArrivalLedger(size: 2, now: 0)
        for rank in 0..<2 { ledger.record(arrival(6, time: 100), from: rank, at: 0) }
        ledger.record(arrival(7, time: 200, stall: 2_000_000_000), from: 1, at: 0)
        XCTAssertEqual(ledger.takeLargestLag(hosts: hosts), RankLag(rank: 1, host: "node-a", seconds: 2))
    }

    /// Still-waiting notes say a rank is alive; they carry no arrival time.
    func testStillWaitingNotesCountAsHeardNotAsArrivalTimes() {
        var ledger = ArrivalLedger(size: 2, now: 0)
        ledger.record(arrival(3, time: 10), from: 0, at: 0)
        ledger.record(WatchdogNote(kind: .stillWaiting, sequence: 3), from: 1, at: 7)
        XCTAssertEqual(ledger.arrived, [3, 3])
        XCTAssertEqual(ledger.heard, [0, 7])
        XCTAssertNil(ledger.takeLargestLag(hosts: hosts))
    }

    func testArrivalsAtCollectivesLongGoneAreDropped() {
        var ledger = ArrivalLedger(size: 2, now: 0)
        let window = Int64(ArrivalLedger.lagWindow)
        for collective in 1...(2 * window) { ledger.record(arrival(collective, time: 5), from: 0, at: 0) }
        ledger.record(arrival(1, time: 2_000_000_000), from: 1, at: 0)
        XCTAssertNil(ledger.takeLargestLag(hosts: hosts), "collective 1 is outside the window")
        ledger.record(arrival(2 * window, time: 7), from: 1, at: 0)
        XCTAssertEqual(ledger.takeLargestLag(hosts: hosts), RankLag(rank: 1, host: "node-a", seconds: 2e-9))
    }

    /// Waiting ranks sleep between polls, longer the longer they wait, but never more than 1 ms, so a
    /// stalled job costs no CPU and polling adds at most an eighth to a collective's time.
    func testPollingPausesGrowWithTheWaitUpToAMillisecond() {
        XCTAssertNil(Watchdog.pauseMicroseconds(waited: 20_000))
        XCTAssertEqual(Watchdog.pauseMicroseconds(waited: 50_000), 10)
        XCTAssertEqual(Watchdog.pauseMicroseconds(waited: 4_000_000), 500)
        XCTAssertEqual(Watchdog.pauseMicroseconds(waited: 600 * 1_000_000_000), 1000)
    }

    /// The timeout reaches the singleton world's watchdog, and a collective of one rank completes at once
    /// however short it is.
    func testTheTimeoutIsTheWorldsAndCollectivesOfOneRankMeetAnyDeadline() throws {
        let world = try Communicator.world()
        let previous = world.collectiveTimeout
        defer { world.collectiveTimeout = previous }
        XCTAssertEqual(previous, 600)
        world.collectiveTimeout = 1e-9
        XCTAssertEqual(world.watchdog.timeout, 1e-9)
        let before = world.watchdog.sequence
        var values: [Int64] = [3, -4]
        try world.allreduceSum(&values)
        try world.barrier()
        XCTAssertEqual(values, [3, -4])
        XCTAssertEqual(world.watchdog.sequence, before + 2, "each collective is numbered")
        XCTAssertNil(world.takeLargestLag())
    }
}
