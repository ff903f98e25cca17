import Foundation
import Model
import SafeIO
import Training

/// The cores a run may use: `nodes` machines of `coresPerNode` cores each.
struct Machine: Equatable {
    var nodes: Int
    var coresPerNode: Int
    var cores: Int { nodes * coresPerNode }

    /// An OpenMPI hostfile's hosts and slots ("node01 slots=16"; a host without slots counts one). Nodes
    /// of different sizes plan as if each had the smallest one's slots.
    static func read(hostfile path: String) throws -> Machine {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(message: "\(path): cannot be read")
        }
        var slots: [Int] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        )
        .enumerated() {
            let fields = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .split(whereSeparator: \.isWhitespace)
            guard !fields.isEmpty else { continue }
            let slotField = fields.dropFirst().first { $0.hasPrefix("slots=") }
            let count = slotField.map { Int($0.dropFirst("slots=".count)) } ?? 1
            guard let count, (1...1 << 20).contains(count) else {
                throw ConfigError(message: "\(path):\(number + 1): slots must be a whole number from 1 to 1048576")
            }
            slots.append(count)
        }
        guard let smallest = slots.min() else { throw ConfigError(message: "\(path): names no host") }
        return Machine(nodes: slots.count, coresPerNode: smallest)
    }
}

/// Ranks x threads per rank.
struct Layout: Equatable, CustomStringConvertible {
    var ranks: Int
    var threads: Int
    var description: String { "\(ranks)x\(threads)" }
}

/// The time model behind the plan: compute per image from measurements (or multiply-adds), threads that
/// scale sublinearly, and a ring allreduce per bucket over the given network.
struct CostModel {
    let config: TrainingConfig
    let costs: NetworkCosts
    let gbps: Double
    let latency: Double
    /// Seconds per image of a training step on one core, by resolution (measured ones).
    let measured: [Int: Double]

    /// The share of a rank's step that more threads do not speed up (Amdahl's law): 5% gives 1.9x on 2
    /// threads, 5.9x on 8 and 15x on 64; an assumption until the thread pool is measured at those widths.
    static let serialShare = 0.05
    /// Multiply-adds per second of one core over a whole training step (G and D forward and backward,
    /// the penalty's double backward), fitted to `bench train` here when no measurement is given.
    static let coreMultiplyAddsPerSecond = 1.6e9

    /// Seconds per image of a training step on one core: measured, scaled from the nearest measured
    /// resolution by the multiply-adds, or from the multiply-adds alone.
    func secondsPerImage(at resolution: Int) -> Double {
        let work = costs.multiplyAdds(at: resolution)
        guard
            let nearest = measured.keys.min(by: {
                abs($0.trailingZeroBitCount - resolution.trailingZeroBitCount)
                    < abs($1.trailingZeroBitCount - resolution.trailingZeroBitCount)
            })
        else { return work / Self.coreMultiplyAddsPerSecond }
        return measured[nearest]! * work / costs.multiplyAdds(at: nearest)
    }

    /// Seconds of one step's gradient communication on `ranks` ranks: per bucket a ring allreduce
    /// (2(p-1)/p of the bytes through each link, 2(p-1) latencies) and, when deterministic, the
    /// recursive-doubling max of the pre-pass; no overlap with computation is assumed.
    func communicationSeconds(at resolution: Int, ranks: Int) -> Double {
        guard ranks > 1 else { return 0 }
        let active = costs.activeParameters(at: resolution)
        let p = Double(ranks), bytesPerSecond = gbps * 1e9 / 8
        let bytesPerValue = config.deterministic ? 8.0 : 4.0
        var seconds = 0.0
        for values in [active.generator, active.discriminator] {
            let buckets = Double((values + config.bucketValues - 1) / config.bucketValues)
            seconds +=
                2 * (p - 1) / p * Double(values) * bytesPerValue / bytesPerSecond + buckets * 2 * (p - 1) * latency
            if config.deterministic { seconds += buckets * log2(p).rounded(.up) * 2 * latency }
        }
        return seconds
    }

    /// Seconds of the busiest rank's passes: groups of passes run side by side (`passesAtOnce`), each
    /// group as long as one pass on one core; a pass left alone shares its kernels out over the threads.
    func computeSeconds(_ layout: PhaseLayout, threads: Int) -> Double {
        let pass = Double(layout.microbatchSize) * secondsPerImage(at: layout.resolution)
        let shared = Self.serialShare + (1 - Self.serialShare) / Double(threads)
        let alone = layout.overlapsReduction ? 1 : 0
        let sideBySide = max(0, layout.mostPerRank - alone), perGroup = layout.passesAtOnce(threads: threads)
        let groups = sideBySide / perGroup, left = sideBySide % perGroup
        let groupSeconds = { (passes: Int) in passes > 1 ? 1 : shared }
        return pass
            * (Double(groups) * groupSeconds(perGroup) + (left > 0 ? groupSeconds(left) : 0) + Double(alone) * shared)
    }

    func stepSeconds(_ layout: PhaseLayout, threads: Int) -> Double {
        computeSeconds(layout, threads: threads) + communicationSeconds(at: layout.resolution, ranks: layout.ranks)
    }

    /// Images the schedule trains at each resolution: 4x4 stabilizes, every later one fades in and
    /// stabilizes, and the last continues to the end of the run.
    var imagesByResolution: [(resolution: Int, images: Double)] {
        let schedule = config.schedule, total = Double(config.totalImages)
        var shown = 0.0
        return config.network.resolutions.enumerated().map { index, resolution in
            let last = resolution == config.network.resolution
            var images = 1000 * (schedule.stabilizeKimg + (index > 0 ? schedule.fadeKimg : 0))
            images = max(0, min(images, total - shown))
            if last { images = max(0, total - shown) }
            shown += images
            return (resolution, images)
        }
    }

    /// Projected seconds of the whole run on `layout`.
    func runSeconds(_ layout: Layout) throws -> Double {
        try imagesByResolution.reduce(0) { sum, phase in
            let phaseLayout = try config.phaseLayout(at: phase.resolution, ranks: layout.ranks)
            return sum + phase.images / Double(phaseLayout.minibatch)
                * stepSeconds(phaseLayout, threads: layout.threads)
        }
    }
}

/// Layouts for a machine, from the fastest by the cost model; layouts in which some rank never holds
/// a micro-batch are left out.
func candidateLayouts(for machine: Machine, model: CostModel) throws -> [(layout: Layout, seconds: Double)] {
    let mostMicrobatches = try model.config.phaseLayouts(ranks: 1).map(\.microbatches).max() ?? 1
    var candidates: [(layout: Layout, seconds: Double)] = []
    for perNode in 1...machine.coresPerNode {
        let layout = Layout(ranks: perNode * machine.nodes, threads: machine.coresPerNode / perNode)
        guard layout.ranks <= mostMicrobatches || layout.ranks == machine.nodes else { continue }
        if candidates.contains(where: { $0.layout == layout }) { continue }
        candidates.append((layout, try model.runSeconds(layout)))
    }
    return candidates.sorted { $0.seconds < $1.seconds }
}

/// Why `layout` cannot run on `machine` (nil if it can), naming the phase when that is the reason.
func layoutProblem(_ layout: Layout, machine: Machine?, config: TrainingConfig) throws -> String? {
    guard layout.ranks > 0, layout.threads > 0 else { return "ranks and threads must be positive" }
    if let machine {
        let perNode = (layout.ranks + machine.nodes - 1) / machine.nodes
        if perNode * layout.threads > machine.coresPerNode {
            return "\(perNode) ranks of \(layout.threads) threads per node need \(perNode * layout.threads) "
                + "cores, but a node has \(machine.coresPerNode)"
        }
    }
    let phases = try config.phaseLayouts(ranks: layout.ranks)
    if let busiest = phases.max(by: { $0.microbatches < $1.microbatches }), busiest.idleRanks > 0 {
        return "at \(busiest.resolution)x\(busiest.resolution), the phase with the most micro-batches "
            + "(\(busiest.microbatches)), \(busiest.idleRanks) of \(layout.ranks) ranks hold none: "
            + "they would never work"
    }
    return nil
}
