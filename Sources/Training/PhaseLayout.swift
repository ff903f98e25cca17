import Model

/// How one phase's global minibatch is cut into micro-batches and dealt to the ranks.
///
/// Micro-batch i holds global samples i·size ..< (i+1)·size. In deterministic mode the size does not
/// depend on the number of ranks, so neither does the partition, and the exact gradient sums give the
/// same bits on any number of ranks. Rank r takes a contiguous run of micro-batches, the first
/// `microbatches % ranks` ranks one more than the others; when there are fewer micro-batches than ranks,
/// the last ranks take none, contribute zero to the sums and wait.
public struct PhaseLayout: Equatable, Sendable {
    public let resolution: Int
    /// Images in the global minibatch.
    public let minibatch: Int
    /// Images per forward/backward pass.
    public let microbatchSize: Int
    public let ranks: Int
    /// D's minibatch-stddev group inside a micro-batch (official rule: min(group size, micro-batch)).
    public let stddevGroup: Int

    public var microbatches: Int { minibatch / microbatchSize }
    /// Ranks that hold no micro-batch in this phase.
    public var idleRanks: Int { max(0, ranks - microbatches) }
    /// Micro-batches of the busiest rank: what a step's time follows.
    public var mostPerRank: Int { (microbatches + ranks - 1) / ranks }
    /// Whether gradient buckets start reducing during a rank's last backward pass: only where there are
    /// other ranks to reduce with, each running a backward pass to start them from.
    public var overlapsReduction: Bool { ranks > 1 && idleRanks == 0 }

    /// The most micro-batches a rank of `threads` threads runs side by side (`Trainer.backwardPasses`):
    /// one per thread, all but the last when that one overlaps the reduction.
    public func passesAtOnce(threads: Int) -> Int {
        max(1, min(threads, mostPerRank - (overlapsReduction ? 1 : 0)))
    }

    /// The micro-batch indices `rank` computes.
    public func microbatchIndices(rank: Int) -> Range<Int> {
        let base = microbatches / ranks, extra = microbatches % ranks
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// The global samples of each micro-batch `rank` computes.
    public func samples(rank: Int) -> [Range<Int>] {
        microbatchIndices(rank: rank).map { ($0 * microbatchSize)..<(($0 + 1) * microbatchSize) }
    }
}

extension TrainingConfig {
    /// The global minibatch at `resolution`: the schedule's, or with `minibatch_per_rank` the schedule's
    /// times the ranks.
    public func globalMinibatch(at resolution: Int, ranks: Int) -> Int {
        recipe.schedule.minibatch(at: resolution) * (recipe.minibatchPerRank == true ? ranks : 1)
    }

    /// The schedule with global minibatches for `ranks` ranks (the recipe's own unless `minibatch_per_rank`).
    public func globalSchedule(ranks: Int) -> ScheduleConfig {
        guard recipe.minibatchPerRank == true else { return recipe.schedule }
        var schedule = recipe.schedule
        schedule.minibatch = schedule.minibatch.mapValues { $0 * ranks }
        schedule.minibatchDefault *= ranks
        return schedule
    }

    /// The layout of the phase at `resolution` on `ranks` ranks, or an error naming the phase.
    public func phaseLayout(at resolution: Int, ranks: Int) throws -> PhaseLayout {
        let minibatch = globalMinibatch(at: resolution, ranks: ranks)
        let group = recipe.network.mbstdGroupSize
        let size = microbatchSize(minibatch: minibatch, ranks: ranks, resolution: resolution)
        let phase = "at \(resolution)x\(resolution)"
        guard minibatch % size == 0 else {
            throw ConfigError(message: "\(phase): minibatch \(minibatch) is not divisible by the micro-batch \(size)")
        }
        guard size % min(group, size) == 0 else {
            throw ConfigError(
                message: "\(phase): micro-batch \(size) is not divisible by the minibatch-stddev group size \(group)")
        }
        return PhaseLayout(
            resolution: resolution, minibatch: minibatch, microbatchSize: size, ranks: ranks,
            stddevGroup: min(group, size))
    }

    /// Every phase's layout on `ranks` ranks, from 4x4 up.
    public func phaseLayouts(ranks: Int) throws -> [PhaseLayout] {
        try recipe.network.resolutions.map { try phaseLayout(at: $0, ranks: ranks) }
    }

    /// Images per forward/backward pass for a global minibatch at `resolution` on `ranks` ranks: the
    /// configured micro-batch, or the largest divisor of the minibatch that holds whole stddev groups and
    /// is at most `largestPass(at:)`, in fast mode also at most each rank's share (so every rank has a
    /// micro-batch). In deterministic mode the partition thus does not depend on the ranks.
    func microbatchSize(minibatch: Int, ranks: Int, resolution: Int) -> Int {
        if let microbatch = recipe.microbatch { return min(microbatch, minibatch) }
        let group = min(recipe.network.mbstdGroupSize, minibatch)
        let largest = Self.largestPass(at: resolution)
        let target = recipe.deterministic ? largest : min(largest, (minibatch + ranks - 1) / ranks)
        // Deterministic mode keeps whole groups of the configured size, where fast mode may shrink the group
        // with a rank's share; without such a divisor, the group size, which `phaseLayout` reports.
        let smallest = recipe.deterministic ? group : 1
        return (smallest...max(smallest, min(target, minibatch))).last {
            minibatch % $0 == 0 && $0 % min(group, $0) == 0
        } ?? group
    }

    /// The most images of a pass when the recipe sets no micro-batch: 8 up to 32x32, then as many as hold
    /// 8 images of 32x32 pixels. A rank's threads run its micro-batches side by side, one per thread,
    /// which shares out far better than the kernels of one pass (`Trainer.backwardPasses`): passes of 8
    /// give a 1-thread rank nearly the speed per image of 16 (about 5% less at 32x32) and give a 2-thread
    /// rank two passes from a minibatch of 16. Larger passes would only add activation memory and leave
    /// threads and ranks idle.
    public static func largestPass(at resolution: Int) -> Int {
        max(1, min(8, 8 * 32 * 32 / (resolution * resolution)))
    }
}
