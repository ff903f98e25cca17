import XCTest
@testable import Training

final class PhaseLayoutTests: XCTestCase {
    /// Micro-batches are dealt in contiguous runs, the first ranks taking one more; ranks beyond the
    /// micro-batches take none; the partition itself never depends on the number of ranks.
    func testMicrobatchesAreDealtToRanksWithoutGapsOrOverlaps() throws {
        var config = TrainingConfig.tiny
        config.schedule.minibatchDefault = 20
        for ranks in 1...9 {
            let layout = try config.phaseLayout(at: 4, ranks: ranks)
            XCTAssertEqual(layout.microbatchSize, 4)
            let dealt = (0..<ranks).map { layout.microbatchIndices(rank: $0) }
            XCTAssertEqual(dealt.flatMap { Array($0) }, Array(0..<5), "\(ranks) ranks")
            XCTAssertEqual(dealt.map(\.count).max(), layout.mostPerRank)
            XCTAssertEqual(dealt.filter(\.isEmpty).count, layout.idleRanks)
            XCTAssertLessThanOrEqual(dealt.map(\.count).max()! - dealt.map(\.count).min()!, 1)
        }
    }

    /// The official rule: a micro-batch smaller than the stddev group is one group.
    func testStddevGroupIsTheSmallerOfGroupSizeAndMicrobatch() throws {
        var config = TrainingConfig.tiny
        config.schedule.minibatchDefault = 2
        let layout = try config.phaseLayout(at: 4, ranks: 8)
        XCTAssertEqual([layout.microbatchSize, layout.stddevGroup, layout.idleRanks], [2, 2, 7])
    }

    /// paper-8 on 8 ranks: 4 images per rank at 1024x1024, as on the official 8 GPUs; paper on 8 ranks
    /// leaves 7 ranks waiting there.
    func testPaperPresetsOnEightRanks() throws {
        let eight = try TrainingConfig.paper8.phaseLayout(at: 1024, ranks: 8)
        XCTAssertEqual([eight.minibatch, eight.microbatches, eight.idleRanks], [32, 8, 0])
        XCTAssertEqual(try TrainingConfig.paper8.phaseLayout(at: 4, ranks: 8).mostPerRank, 4)
        let one = try TrainingConfig.paper.phaseLayout(at: 1024, ranks: 8)
        XCTAssertEqual([one.minibatch, one.microbatches, one.idleRanks], [4, 1, 7])
    }

    /// Per-rank minibatches grow the global one with the ranks; fast mode takes about a rank's share.
    func testPerRankMinibatchesAndFastModeMicrobatches() throws {
        var config = TrainingConfig.tiny
        config.minibatchPerRank = true
        XCTAssertEqual(try config.phaseLayout(at: 8, ranks: 3).minibatch, 24)
        XCTAssertEqual(config.globalSchedule(ranks: 3).minibatch(at: 16), 24)
        config.minibatchPerRank = false
        config.microbatch = nil
        config.deterministic = false
        config.schedule.minibatchDefault = 16
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 2).microbatchSize, 8)
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 3).microbatchSize, 4)
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 32).microbatchSize, 1)
    }

    /// Deterministic mode without a configured micro-batch: the largest divisor of the minibatch up to
    /// 16 (fewer past 32x32, as many as hold 16 images of 32x32 pixels) made of whole stddev groups, the
    /// same on any number of ranks; none such is the group size's error.
    func testDeterministicMicrobatchIsUpToSixteenWholeGroupsOnAnyRanks() throws {
        var config = TrainingConfig.cpu
        let cases = [
            (16, 32, 16), (128, 4, 16), (24, 16, 12), (8, 32, 8), (2, 8, 2), (6, 4, 4), (64, 64, 4), (32, 1024, 4),
        ]
        for (minibatch, resolution, size) in cases {
            for ranks in [1, 2, 3, 8] {
                XCTAssertEqual(
                    config.microbatchSize(minibatch: minibatch, ranks: ranks, resolution: resolution), size,
                    "minibatch \(minibatch) at \(resolution)")
            }
        }
        config.schedule.minibatchDefault = 6
        XCTAssertThrowsError(try config.phaseLayout(at: 4, ranks: 1)) { error in
            XCTAssertEqual("\(error)", "at 4x4: minibatch 6 is not divisible by the micro-batch 4")
        }
        config.schedule.minibatchDefault = 16
        let two = try config.phaseLayout(at: 32, ranks: 2)
        XCTAssertEqual([two.microbatches, two.stddevGroup, two.idleRanks], [1, 4, 1])
    }
}
