import Model

/// Wall-clock time a run has spent: on steps at each resolution (checkpoint copies and status lines between
/// them included), and at the ends of ticks (grids, metrics, SWD). What the time left is extrapolated from.
public struct ThroughputHistory: Equatable, Sendable {
    public struct Spent: Equatable, Sendable {
        public var images = 0
        public var seconds = 0.0
    }

    public struct TickEnds: Equatable, Sendable {
        public var count = 0
        public var seconds = 0.0
    }

    public private(set) var byResolution: [Int: Spent] = [:]
    /// The most recent durations of tick ends that measured no quality, at most `tickEndWindow` of them.
    public private(set) var tickEnds: [Double] = []
    /// Tick ends that measured SWD and MS-SSIM, by resolution (the first at each also describes the reals).
    public private(set) var qualityTickEnds: [Int: TickEnds] = [:]
    private let tickEndWindow: Int

    /// `tickEndWindow`: tick ends the time of a future one is averaged over; spanning a period of the
    /// checkpoints, so that their copies are counted at their rate, not at the tick they fall on.
    public init(tickEndWindow: Int = 1) { self.tickEndWindow = max(tickEndWindow, 1) }

    /// `images` trained at `resolution` in `seconds`.
    public mutating func add(resolution: Int, images: Int, seconds: Double) {
        guard seconds.isFinite, seconds >= 0, images >= 0 else { return }
        byResolution[resolution, default: Spent()].images += images
        byResolution[resolution, default: Spent()].seconds += seconds
    }

    /// A tick's end, which measured quality at `qualityAt` (nil: it did not). Kept apart from the steps:
    /// it costs per tick, not per image, and an SWD every few ticks costs far more than the ticks between.
    public mutating func addTickEnd(seconds: Double, qualityAt resolution: Int? = nil) {
        guard seconds.isFinite, seconds >= 0 else { return }
        if let resolution {
            qualityTickEnds[resolution, default: TickEnds()].count += 1
            qualityTickEnds[resolution, default: TickEnds()].seconds += seconds
        } else {
            tickEnds = Array((tickEnds + [seconds]).suffix(tickEndWindow))
        }
    }
}

/// The time a run has left: the images the schedule still trains at each resolution, each at the cost
/// per image measured at that resolution on this run, or, for a resolution not reached yet, extrapolated
/// from the measured ones (with a probe, both as below); the ticks left, each at the mean of the recent
/// tick ends, and those among them that measure SWD and MS-SSIM at what that costs at their resolution (as
/// measured, else as probed, else as at the last resolution measured); and the evaluation the last tick
/// ends with (FID and KID), which no earlier tick end measures.
///
/// A resolution the run's `CostProbe` timed (reached yet or not) costs what the probe found there, at the
/// run's pace against the probe over everything both timed: the probe gives the shape of this machine's cost
/// curve, the run its level (a machine that got busier since, communication between ranks the probe leaves
/// out).
///
/// Past the probe's budget, a model: the cost per image is far from proportional to the networks'
/// multiply-adds (at 64 maps, 140 times the work at 32x32 as at 4x4 takes 22 times as long). Each block
/// adds a fixed set of operations (two convolutions in G and two in D, pixel norms, resampling, their
/// backward passes and the gradient penalty's double backward), and each costs a call that does not
/// shrink with the images of a micro-batch: at 4x4 those calls dominate. So an image at resolution r is
/// modelled as costing `perBlock · blocks(r) + perWork · multiplyAdds(r)`, the two rates solved from the
/// two highest resolutions measured. With one measured, `perWork` is a prior, `marginalMultiplyAddsPerSecond` per core
/// (never more than that resolution's whole cost, which would leave the blocks a negative share).
/// RemainingTimeTests runs the model over two measured cost profiles: on the 64-map one it is within 20%
/// of the time left from the first tick of each resolution on (10% during 4x4, on the prior alone).
public struct RemainingTime: Sendable {
    /// Images each resolution trains over the whole run, smallest resolution first.
    private let segments: [(resolution: Int, range: Range<Int>)]
    private let tickImages: Int
    /// Multiply-adds of one forward pass of G and D over one image, by resolution.
    private let work: [Int: Double]
    /// Seconds per multiply-add assumed until two resolutions have been measured.
    private let priorSecondsPerWork: Double
    private let probe: CostProbe
    private let endOfRunSeconds: Double
    private let config: TrainingConfig

    /// What one core adds per multiply-add of a larger resolution over a whole training step (forward and
    /// backward of G and D, the penalty's double backward): the slope of the `cpu` preset's measured cost
    /// per image between 4x4 and 16x16 (`progan bench train`, 1 rank x 1 thread).
    static let marginalMultiplyAddsPerSecond = 8e9

    /// `cores`: every core the run trains on (ranks x threads), for the prior. `endOfRunSeconds`: what the
    /// last tick's end costs beyond an ordinary one.
    public init(config: TrainingConfig, cores: Int, probe: CostProbe = CostProbe(), endOfRunSeconds: Double = 0) {
        (self.config, self.probe, self.endOfRunSeconds) = (config, probe, endOfRunSeconds)
        let total = config.totalImages
        tickImages = max(wholeImages(kimg: config.tickKimg), 1)
        let starts = resolutionStarts(config: config.schedule, finalResolution: config.network.resolution)
        segments = starts.indices.map { index in
            let end = index + 1 < starts.count ? starts[index + 1].imagesShown : total
            let start = min(starts[index].imagesShown, total)
            return (starts[index].resolution, start..<max(start, min(end, total)))
        }
        let costs = NetworkCosts(config.network)
        work = Dictionary(uniqueKeysWithValues: config.network.resolutions.map { ($0, costs.multiplyAdds(at: $0)) })
        priorSecondsPerWork = 1 / (Self.marginalMultiplyAddsPerSecond * Double(max(cores, 1)))
    }

    /// Seconds until the run has shown its last image, from `imagesShown` on; nil before anything was
    /// measured.
    public func secondsLeft(imagesShown: Int, history: ThroughputHistory) -> Double? {
        let end = max(segments.last?.range.upperBound ?? 0, imagesShown)
        guard end > imagesShown else { return 0 }
        let ticksDone = imagesShown / tickImages, lastTick = (end + tickImages - 1) / tickImages
        let tickEnds = history.tickEnds
        let plainTickEnd = tickEnds.isEmpty ? 0 : tickEnds.reduce(0, +) / Double(tickEnds.count)
        var seconds = Double(lastTick - ticksDone) * plainTickEnd + endOfRunSeconds
        for (index, segment) in segments.enumerated() {
            let images = segment.range.upperBound - max(segment.range.lowerBound, imagesShown)
            guard images > 0 else { continue }
            guard let cost = secondsPerImage(at: segment.resolution, history: history) else { return nil }
            seconds += Double(images) * cost
            // The ticks ending in this segment (the last tick ends past it, in the last one).
            let firstTick = max((segment.range.lowerBound + tickImages - 1) / tickImages, ticksDone + 1, 1)
            let lastInSegment = index == segments.count - 1 ? lastTick : (segment.range.upperBound - 1) / tickImages
            guard firstTick <= lastInSegment else { continue }
            let count = config.qualityTickCount(
                firstTick...lastInSegment, lastTick: lastTick, resolution: segment.resolution)
            guard count > 0 else { continue }
            let quality = qualityTickEnd(at: segment.resolution, history: history)
            seconds += Double(count) * max(quality.each - plainTickEnd, 0) + quality.once
        }
        return seconds
    }

    /// The seconds of a tick end that measures quality at `resolution`, and what the first such one there
    /// adds (the reals' descriptors): as measured at that resolution, else as probed at the speed the run
    /// has against the probe, else as measured at the highest resolution that was; nothing when none was.
    private func qualityTickEnd(at resolution: Int, history: ThroughputHistory) -> (each: Double, once: Double) {
        if let measured = history.qualityTickEnds[resolution], measured.count > 0 {
            return (measured.seconds / Double(measured.count), 0)
        }
        if let probed = probe.qualitySecondsPerImage[resolution] {
            let setSeconds = Double(config.swdImages) * probed * speedAgainstProbe(history)
            return (setSeconds, setSeconds)
        }
        guard let top = history.qualityTickEnds.keys.max(), let measured = history.qualityTickEnds[top] else {
            return (0, 0)
        }
        return (measured.seconds / Double(measured.count), 0)
    }

    /// How much slower the run trains than the probe did: the run's time at the resolutions the probe timed
    /// over what the probe's figures give for the same images (1 before any). Pooled over the whole run, not
    /// taken from the latest resolution alone: on a shared machine a single slow tick would otherwise set the
    /// pace of every resolution ahead.
    private func speedAgainstProbe(_ history: ThroughputHistory) -> Double {
        var measured = 0.0, probed = 0.0
        for (resolution, spent) in history.byResolution {
            guard let perImage = probe.secondsPerImage[resolution] else { continue }
            (measured, probed) = (measured + spent.seconds, probed + Double(spent.images) * perImage)
        }
        return probed > 0 ? measured / probed : 1
    }

    /// The measured cost per image at `resolution`, or the modelled one; nil before anything was measured.
    public func secondsPerImage(at resolution: Int, history: ThroughputHistory) -> Double? {
        let measured = history.byResolution.filter { $0.value.images > 0 }.keys.sorted()
        // The resolution in progress too: its first tick alone may have been a slow one, and the pooled pace
        // comes to its own measured cost as its share of the run's time grows.
        if let probed = probe.secondsPerImage[resolution],
            measured.contains(where: { probe.secondsPerImage[$0] != nil })
        {
            return probed * speedAgainstProbe(history)
        }
        if let spent = history.byResolution[resolution], spent.images > 0 {
            return spent.seconds / Double(spent.images)
        }
        func cost(_ resolution: Int) -> Double {
            history.byResolution[resolution]!.seconds / Double(history.byResolution[resolution]!.images)
        }
        guard let top = measured.last, let target = work[resolution], let topWork = work[top] else { return nil }
        let topCost = cost(top)
        let (blocks, topBlocks) = (Self.blocks(resolution), Self.blocks(top))
        var perWork = min(priorSecondsPerWork, topCost / topWork)
        if let next = measured.dropLast().last, let nextWork = work[next] {
            let nextCost = cost(next)
            // perBlock·b + perWork·w = cost at both resolutions, solved for perWork.
            let nextBlocks = Self.blocks(next)
            perWork =
                (topCost * nextBlocks - nextCost * topBlocks) / (topWork * nextBlocks - nextWork * topBlocks)
            // Noise (a machine that got busier or quieter between the two) can put either rate below zero:
            // then the cost grows only with the blocks, or only with the work.
            perWork = min(max(perWork, 0), topCost / topWork)
        }
        let perBlock = (topCost - perWork * topWork) / topBlocks
        return perBlock * blocks + perWork * target
    }

    /// Blocks of G (and of D) in use at `resolution`: 1 at 4x4.
    private static func blocks(_ resolution: Int) -> Double { Double(resolution.trailingZeroBitCount - 1) }
}
