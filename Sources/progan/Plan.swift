import ArgumentParser
import Dataset
import Foundation
import Model
import Training
import TrainingOptions

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How a configuration runs on a layout of ranks x threads, and the best layout for a machine.",
        discussion: """
            For every phase: the global minibatch, micro-batches per rank, idle ranks and the memory per rank \
            (estimated from the networks' layouts). Given --cores or --hostfile, the layouts that fit, fastest \
            first by a cost model; given --timings (lines of `progan bench train` output), the cost-growth \
            table: compute per step at each resolution beside a ring-allreduce model of the step's \
            communication and the projected scaling efficiency at 8, 64 and 512 ranks; given --images or \
            --dataset, the bytes of the dataset each node reads in each phase and the file a node-local copy holds.
            """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup(title: "Training settings (as for train)") var flags: TrainingFlags
    @Option(help: "MPI ranks (default: the best layout's, or 1).") var ranks: Int?
    @Option(help: "Cores of one machine to plan for.") var cores: Int?
    @Option(help: ArgumentHelp("An OpenMPI hostfile: its hosts and slots are the machine.", valueName: "file"))
    var hostfile: String?
    @Option(
        name: .customLong("network-gbps"),
        help: "Bandwidth between ranks in Gb/s, for the cost model (default: 25 across nodes, 80 within one).")
    var networkGbps: Double?
    @Option(
        name: .customLong("latency-us"),
        help: "Latency between ranks in microseconds, for the cost model (default: 2 across nodes, 0.5 within one).")
    var latencyMicroseconds: Double?
    @Option(help: ArgumentHelp("`progan bench train` output lines: measured compute per image.", valueName: "file"))
    var timings: String?
    @Flag(help: "Print only the chosen layout, as RANKS THREADS (for scripts).") var layoutOnly = false
    @Option(help: ArgumentHelp("Images in the dataset: adds the bytes each node reads per phase.", valueName: "n"))
    var images: Int?
    @Option(help: ArgumentHelp("A prepared dataset: as --images, with its count.", valueName: "file"))
    var dataset: String?

    func run() throws {
        do {
            let config = try options.resolved(flags.overrides)
            try config.validate()
            var machine = try hostfile.map { try Machine.read(hostfile: $0) }
            if machine == nil, let cores { machine = Machine(nodes: 1, coresPerNode: cores) }
            // One node's ranks talk through shared memory.
            let oneNode = (machine?.nodes ?? 1) == 1
            let gbps = networkGbps ?? (oneNode ? 80 : 25), latency = latencyMicroseconds ?? (oneNode ? 0.5 : 2)
            guard gbps > 0, gbps.isFinite, latency >= 0, latency.isFinite else {
                throw ConfigError(message: "--network-gbps must be positive and --latency-us not negative")
            }
            // --threads is the training flag's (a run setting), checked with the configuration.
            let threads = config.threads
            if images != nil && dataset != nil { throw ConfigError(message: "give --images or --dataset, not both") }
            if let images, !(1...Int(UInt32.max)).contains(images) {
                throw ConfigError(message: "--images \(images) must be from 1 to \(UInt32.max)")
            }
            for (flag, value) in [("--ranks", ranks), ("--cores", cores)] {
                if let value, !(1...1 << 20).contains(value) {
                    throw ConfigError(message: "\(flag) \(value) must be from 1 to 1048576")
                }
            }
            let model = CostModel(
                config: config, costs: NetworkCosts(config.network), gbps: gbps, latency: latency * 1e-6,
                measured: try timings.map(readTimings) ?? [:])
            let report = try LayoutReport(
                config: config, model: model, machine: machine, ranks: ranks, threads: threads)
            if layoutOnly {
                print("\(report.layout.ranks) \(report.layout.threads)")
            } else {
                report.lines().forEach { print($0) }
                if timings != nil { costGrowthLines(model).forEach { print($0) } }
                let prepared = try dataset.map { try PreparedDataset(path: $0) }
                if let count = images ?? prepared?.count {
                    print("")
                    datasetLines(
                        images: count, datasetResolution: prepared?.resolution ?? config.network.resolution,
                        phases: config.network.resolutions
                    ).forEach { print($0) }
                }
            }
        } catch {
            fail(error)
        }
    }

    /// Seconds per image on one core by resolution, from `bench train` lines (the fastest line of each).
    private func readTimings(_ path: String) throws -> [Int: Double] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(message: "\(path): cannot be read")
        }
        var result: [Int: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.contains("step_ms=") {
            let fields = Dictionary(
                line.split(separator: " ").compactMap { field -> (String, Double)? in
                    let parts = field.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, let value = Double(parts[1]) else { return nil }
                    return (String(parts[0]), value)
                }, uniquingKeysWith: { first, _ in first })
            guard let resolution = fields["resolution"].map(Int.init), let stepMilliseconds = fields["step_ms"],
                let minibatch = fields["minibatch"], minibatch > 0, stepMilliseconds > 0,
                [4, 8, 16, 32, 64, 128, 256, 512, 1024].contains(resolution)
            else { throw ConfigError(message: "\(path): '\(line)' is not a bench train line") }
            let cores = (fields["ranks"] ?? 1) * (fields["threads"] ?? 1)
            let perImage = stepMilliseconds / 1000 * cores / minibatch
            result[resolution] = min(result[resolution] ?? .infinity, perImage)
        }
        return result
    }

    /// Compute per step on one core at each resolution beside the modelled communication, and the
    /// projected efficiency of 8, 64 and 512 ranks (one thread each) against one.
    private func costGrowthLines(_ model: CostModel) -> [String] {
        let (networkGbps, latencyMicroseconds) = (model.gbps, model.latency * 1e6)
        let counts = [8, 64, 512]
        var lines = [
            "",
            "cost growth (\(formatted(networkGbps, 0)) Gb/s, \(formatted(latencyMicroseconds, 1)) µs; ring allreduce "
                + "per bucket, no overlap; compute \(model.measured.isEmpty ? "from multiply-adds" : "measured") "
                + "on 1 core, other resolutions scaled by multiply-adds):",
            "resolution  minibatch  compute/step  "
                + counts.map { "comm@\($0)".padding(toLength: 10, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + counts.map { "eff@\($0)" }.joined(separator: "  "),
        ]
        for resolution in model.config.network.resolutions {
            guard let single = try? model.config.phaseLayout(at: resolution, ranks: 1) else { continue }
            let compute = model.computeSeconds(single, threads: 1)
            let efficiency = counts.map { count -> Double in
                guard let layout = try? model.config.phaseLayout(at: resolution, ranks: count) else { return 0 }
                return compute / (Double(count) * model.stepSeconds(layout, threads: 1))
            }
            let measured = model.measured[resolution] != nil ? "*" : " "
            lines.append(
                "\(resolution)x\(resolution)\(measured)".padding(toLength: 12, withPad: " ", startingAt: 0)
                    + rightAligned(String(single.minibatch), 9) + "  " + rightAligned(duration(compute), 12) + "  "
                    + counts.map {
                        duration(model.communicationSeconds(at: resolution, ranks: $0))
                            .padding(toLength: 10, withPad: " ", startingAt: 0)
                    }.joined(separator: "  ") + "  "
                    + efficiency.map { String(format: "%5.0f%%", 100 * $0) }.joined(separator: "  "))
        }
        lines.append("(* measured resolution)")
        return lines
    }
}

/// A duration with a unit that keeps it short.
func duration(_ seconds: Double) -> String {
    switch seconds {
    case ..<1e-3: return String(format: "%.0f µs", seconds * 1e6)
    case ..<1: return String(format: "%.1f ms", seconds * 1e3)
    case ..<120: return String(format: "%.1f s", seconds)
    case ..<7200: return String(format: "%.1f min", seconds / 60)
    case ..<(3 * 86400): return String(format: "%.1f h", seconds / 3600)
    default: return String(format: "%.1f d", seconds / 86400)
    }
}
