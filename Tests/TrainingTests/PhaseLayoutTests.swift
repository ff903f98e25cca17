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

    /// Passes side by side: one per thread, up to a rank's micro-batches, bar the last one where it
    /// overlaps the reduction (several ranks, none idle).
    func testPassesSideBySideFollowTheThreadsAndTheOverlap() throws {
        var config = TrainingConfig.tiny
        config.schedule.minibatchDefault = 16
        let one = try config.phaseLayout(at: 4, ranks: 1)
        XCTAssertFalse(one.overlapsReduction)
        XCTAssertEqual([1, 2, 3, 8].map { one.passesAtOnce(threads: $0) }, [1, 2, 3, 4])
        let two = try config.phaseLayout(at: 4, ranks: 2)
        XCTAssertTrue(two.overlapsReduction)
        XCTAssertEqual([1, 2, 8].map { two.passesAtOnce(threads: $0) }, [1, 1, 1])
        let eight = try config.phaseLayout(at: 4, ranks: 8)
        XCTAssertEqual([eight.idleRanks, eight.passesAtOnce(threads: 4)], [4, 1])
        XCTAssertFalse(eight.overlapsReduction, "idle ranks run no backward pass to start buckets from")
        let costs = NetworkCosts(config.network)
        XCTAssertGreaterThan(
            config.memoryPerRank(one, threads: 4, costs: costs).activations,
            3.9 * config.memoryPerRank(one, threads: 1, costs: costs).activations,
            "four passes at once keep four passes' activations")
    }

    /// The official rule: a micro-batch smaller than the stddev group is one group.
    func testStddevGroupIsTheSmallerOfGroupSizeAndMicrobatch() throws {
        var config = TrainingConfig.tiny
        config.schedule.minibatchDefault = 2
        let layout = try config.phaseLayout(at: 4, ranks: 8)
        XCTAssertEqual([layout.microbatchSize, layout.stddevGroup, layout.idleRanks], [2, 2, 7])
    }

    /// paper-8 on 8 ranks: 4 images per rank at 1024x1024, as on the official 8 GPUs; paper on 8 ranks
    /// leaves 7 ranks waiting there. At 4x4, 512 images make 64 passes of 8, 8 per rank.
    func testPaperPresetsOnEightRanks() throws {
        let eight = try TrainingConfig.paper8.phaseLayout(at: 1024, ranks: 8)
        XCTAssertEqual([eight.minibatch, eight.microbatches, eight.idleRanks], [32, 8, 0])
        XCTAssertEqual(try TrainingConfig.paper8.phaseLayout(at: 4, ranks: 8).mostPerRank, 8)
        let one = try TrainingConfig.paper.phaseLayout(at: 1024, ranks: 8)
        XCTAssertEqual([one.minibatch, one.microbatches, one.idleRanks], [4, 1, 7])
    }

    /// Per-rank minibatches grow the global one with the ranks; fast mode takes about a rank's share, at
    /// most the passes of 8 images that a rank's threads run side by side.
    func testPerRankMinibatchesAndFastModeMicrobatches() throws {
        var config = TrainingConfig.tiny
        config.minibatchPerRank = true
        XCTAssertEqual(try config.phaseLayout(at: 8, ranks: 3).minibatch, 24)
        XCTAssertEqual(config.globalSchedule(ranks: 3).minibatch(at: 16), 24)
        config.minibatchPerRank = false
        config.microbatch = nil
        config.deterministic = false
        config.schedule.minibatchDefault = 16
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 1).microbatchSize, 8)
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 2).microbatchSize, 8)
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 3).microbatchSize, 4)
        XCTAssertEqual(try config.phaseLayout(at: 4, ranks: 32).microbatchSize, 1)
    }

    /// Deterministic mode without a configured micro-batch: the largest divisor of the minibatch up to
    /// 8 (fewer past 32x32, as many as hold 8 images of 32x32 pixels) made of whole stddev groups, the
    /// same on any number of ranks; none such is the group size's error.
    func testDeterministicMicrobatchIsUpToEightWholeGroupsOnAnyRanks() throws {
        var config = TrainingConfig.cpu
        config.microbatch = nil
        let cases = [
            (16, 32, 8), (128, 4, 8), (24, 16, 8), (12, 16, 4), (8, 32, 8), (2, 8, 2), (6, 4, 4), (64, 64, 4),
            (32, 1024, 4),
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
        XCTAssertEqual([two.microbatches, two.stddevGroup, two.idleRanks], [2, 4, 0])
        let three = try config.phaseLayout(at: 32, ranks: 3)
        XCTAssertEqual([three.microbatches, three.idleRanks], [2, 1])
    }
}
