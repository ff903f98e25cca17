import Foundation
import Model
import Training

/// The plan of a configuration on one layout: what `progan plan` and `progan train --dry-run` print.
struct LayoutReport {
    let config: TrainingConfig
    let model: CostModel
    let machine: Machine?
    let layout: Layout
    /// The machine's layouts, fastest first (empty without a machine).
    let candidates: [(layout: Layout, seconds: Double)]

    /// The given layout, completed from the machine (ranks fill the cores left by the threads and the
    /// other way round), or the machine's fastest; an impossible one is an error naming the reason and
    /// the nearest layouts that work.
    init(config: TrainingConfig, model: CostModel, machine: Machine?, ranks: Int?, threads: Int?) throws {
        self.config = config
        self.model = model
        self.machine = machine
        candidates = try machine.map { try candidateLayouts(for: $0, model: model) } ?? []
        switch (ranks, threads, machine) {
        case let (ranks?, threads?, _):
            layout = Layout(ranks: ranks, threads: threads)
        case let (ranks?, nil, machine?):
            layout = Layout(
                ranks: ranks, threads: max(1, machine.coresPerNode / ((ranks + machine.nodes - 1) / machine.nodes)))
        case let (nil, threads?, machine?):
            layout = Layout(ranks: max(1, machine.coresPerNode / threads) * machine.nodes, threads: threads)
        case (nil, nil, _?):
            layout = candidates.first?.layout ?? Layout(ranks: 1, threads: 1)
        case let (ranks, threads, nil):
            layout = Layout(ranks: ranks ?? 1, threads: threads ?? 1)
        }
        if let problem = try layoutProblem(layout, machine: machine, config: config) {
            let nearest = try nearestLayouts(to: layout).map(\.description).joined(separator: ", ")
            throw ConfigError(
                message: "layout \(layout) (ranks x threads): \(problem); nearest valid layouts: "
                    + (nearest.isEmpty ? "none" : nearest))
        }
    }

    /// Up to three layouts that work, closest to `wanted` in factors of two of ranks and of threads.
    private func nearestLayouts(to wanted: Layout) throws -> [Layout] {
        let space = machine ?? Machine(nodes: 1, coresPerNode: max(1, wanted.ranks * wanted.threads))
        var layouts: [Layout] = []
        for perNode in 1...space.coresPerNode {
            for threads in 1...(space.coresPerNode / perNode) {
                let layout = Layout(ranks: perNode * space.nodes, threads: threads)
                if try layoutProblem(layout, machine: space, config: config) == nil { layouts.append(layout) }
            }
        }
        func distance(_ layout: Layout) -> Double {
            abs(log2(Double(layout.ranks) / Double(wanted.ranks)))
                + abs(log2(Double(layout.threads) / Double(wanted.threads)))
        }
        return Array(
            layouts.sorted { (distance($0), -$0.ranks * $0.threads) < (distance($1), -$1.ranks * $1.threads) }.prefix(3)
        )
    }

    func lines(title: String = "") -> [String] {
        let costs = model.costs
        let phases = (try? config.phaseLayouts(ranks: layout.ranks)) ?? []
        let cores = layout.ranks * layout.threads
        let machineText =
            machine.map {
                " on \($0.nodes > 1 ? "\($0.nodes) nodes x \($0.coresPerNode)" : "\($0.coresPerNode)") cores"
            } ?? ""
        var lines = [
            "plan\(title): \(layout.ranks) rank\(layout.ranks == 1 ? "" : "s") x \(layout.threads) "
                + "thread\(layout.threads == 1 ? "" : "s") (\(cores) cores)\(machineText), "
                + (config.deterministic ? "deterministic (the same bits on any layout)" : "fast mode")
                + (config.minibatchPerRank == true
                    ? ", minibatch per rank (not bit-identical across world sizes)" : ""),
            "networks at \(config.network.resolution)x\(config.network.resolution): "
                + "G \(millions(costs.generatorParameters)) and "
                + "D \(millions(costs.discriminatorParameters)) parameters",
            "resolution  minibatch  micro-batch  stddev group  micro-batches  per rank  idle ranks  memory/rank  "
                + "step (model)",
        ]
        for phase in phases {
            let memory = config.memoryPerRank(phase, threads: layout.threads, costs: costs).total
            let columns = [
                phase.minibatch, phase.microbatchSize, phase.stddevGroup, phase.microbatches, phase.mostPerRank,
                phase.idleRanks,
            ].map(String.init)
            let widths = [9, 11, 12, 13, 8, 10, 11]
            let row = zip(columns + [gibibytes(memory)], widths).map { rightAligned($0, $1) }
            lines.append(
                "\(phase.resolution)x\(phase.resolution)".padding(toLength: 10, withPad: " ", startingAt: 0)
                    + row.joined(separator: "  ") + "  " + duration(model.stepSeconds(phase, threads: layout.threads)))
        }
        if let largest = phases.max(by: {
            config.memoryPerRank($0, threads: layout.threads, costs: costs).total
                < config.memoryPerRank($1, threads: layout.threads, costs: costs).total
        }) {
            let memory = config.memoryPerRank(largest, threads: layout.threads, costs: costs)
            lines.append(
                "memory per rank at \(largest.resolution)x\(largest.resolution) (its largest phase): "
                    + "\(gibibytes(memory.total)) = weights \(gibibytes(memory.weights)) + Adam "
                    + "\(gibibytes(memory.optimizer)) + reducer \(gibibytes(memory.reducer)) + activations "
                    + "\(gibibytes(memory.activations)) + workspace \(gibibytes(memory.workspace))")
        }
        if let idle = try? config.idleRanksNote(ranks: layout.ranks) { lines.append(idle) }
        lines.append("projected run: \(duration((try? model.runSeconds(layout)) ?? .nan)) (the cost model's)")
        if !candidates.isEmpty {
            lines.append(
                "layouts for this machine, fastest first: "
                    + candidates.prefix(5).map { "\($0.layout) (\(duration($0.seconds)))" }.joined(separator: "  "))
        }
        lines.append("layout: \(layout.ranks) ranks x \(layout.threads) threads")
        return lines
    }
}

func rightAligned(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

private func millions(_ count: Int) -> String { String(format: "%.2fM", Double(count) / 1e6) }

private func gibibytes(_ bytes: Double) -> String {
    bytes >= 0x1p30 ? String(format: "%.2f GiB", bytes / 0x1p30) : String(format: "%.0f MiB", bytes / 0x1p20)
}
