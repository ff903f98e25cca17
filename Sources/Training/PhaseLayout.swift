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
    /// is at most `deterministicMicrobatch(at:)` in deterministic mode (so the partition does not depend on
    /// the ranks) or about each rank's share in fast mode (so every rank has a micro-batch).
    func microbatchSize(minibatch: Int, ranks: Int, resolution: Int) -> Int {
        if let microbatch = recipe.microbatch { return min(microbatch, minibatch) }
        let group = min(recipe.network.mbstdGroupSize, minibatch)
        let target =
            recipe.deterministic
            ? Self.deterministicMicrobatch(at: resolution) : (minibatch + ranks - 1) / ranks
        // Deterministic mode keeps whole groups of the configured size, where fast mode may shrink the group
        // with a rank's share; without such a divisor, the group size, which `phaseLayout` reports.
        let smallest = recipe.deterministic ? group : 1
        return (smallest...max(smallest, min(target, minibatch))).last {
            minibatch % $0 == 0 && $0 % min(group, $0) == 0
        } ?? group
    }

    /// The most images of a deterministic pass when the recipe sets no micro-batch: 16 up to 32x32, then
    /// as many as hold 16 images of 32x32 pixels. A pass over fewer pixels is made of kernels too small to
    /// share out over a rank's threads (a 4-image pass at 32x32 gains nothing from a second thread); more
    /// would only add activation memory and leave ranks idle (ranks beyond a phase's micro-batches wait).
    public static func deterministicMicrobatch(at resolution: Int) -> Int {
        max(1, min(16, 16 * 32 * 32 / (resolution * resolution)))
    }
}
