import ArgumentParser
import CheckpointFile
import Foundation
import Model
import Training

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what a checkpoint holds, or how it differs from another.",
        discussion: """
            Prints the format version, the configuration hash, the counters (step, images shown, data position, \
            resolution and phase, Adam steps) and every section with its size.

            With --compare OTHER: the counters that differ, and per section and per tensor the largest \
            absolute difference and how many values differ. A section agrees when its largest difference is \
            at most --tolerance times the largest magnitude in OTHER's section (default 0: bit for bit).

            Exit status: 0 when everything agrees, 1 when the checkpoints differ, 2 when a file cannot be read.
            """)

    @Argument(help: ArgumentHelp("Checkpoint file.", valueName: "checkpoint")) var checkpoint: String
    @Option(help: ArgumentHelp("Checkpoint to compare with.", valueName: "other")) var compare: String?
    @Option(help: "Largest difference that still agrees, relative to the section's largest magnitude.")
    var tolerance = 0.0

    func validate() throws {
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be 0 or positive") }
    }

    func run() throws {
        let (file, loaded) = load(checkpoint)
        guard let compare else {
            describe(file, loaded)
            return
        }
        let (_, other) = load(compare)
        print("comparing \(checkpoint) with \(compare)" + (tolerance > 0 ? " (tolerance \(tolerance))" : ""))
        let stateAgrees = compareStates(loaded.state, other.state)
        let (sectionsAgree, largest) = compareBuffers(loaded, other)
        let agree = stateAgrees && sectionsAgree
        let verdict = !agree ? "differ" : largest == 0 ? "are identical" : "agree within the tolerance"
        let figure = largest.isFinite ? " (largest difference \(largest.formatted) of a section's scale)" : ""
        print("the checkpoints \(verdict)\(figure)")
        if !agree { Foundation.exit(1) }
    }

    /// Exits with status 2 and one line when `path` is not a readable checkpoint.
    private func load(_ path: String) -> (CheckpointFile, Checkpoint) {
        do {
            let file = try CheckpointFile.read(path: path)
            return (file, try Checkpoint(file, path: path))
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(2)
        }
    }

    private func describe(_ file: CheckpointFile, _ checkpoint: Checkpoint) {
        print("checkpoint \(self.checkpoint): format version \(CheckpointFile.version)")
        for (label, value) in counters(checkpoint.state) { print("  \(label.padding(14)) \(value)") }
        print("  sections")
        for section in file.sections {
            let isState = CheckpointSection(rawValue: section.name) == .state
            let floats = isState ? "" : "  \(section.payload.count / 4) floats"
            print("    \(section.name.padding(10)) \(String(section.payload.count).leftPadded(to: 10)) bytes\(floats)")
        }
    }

    private func counters(_ state: TrainingState) -> [(String, String)] {
        [
            ("config hash", state.configHash), ("step", String(state.step)),
            ("images shown", "\(state.imagesShown) (\(String(format: "%.3f", Double(state.imagesShown) / 1000)) kimg)"),
            ("data position", String(state.dataPosition)),
            ("resolution", "\(state.resolution)x\(state.resolution) \(state.phase.rawValue)"),
            ("adam steps", "G \(state.adamGeneratorStep), D \(state.adamDiscriminatorStep)"),
            ("random scheme", state.randomScheme), ("tensors", "\(state.tensors.count) in the table"),
        ]
    }

    /// Prints the counters that differ; true when none does and the configurations are equal.
    private func compareStates(_ first: TrainingState, _ second: TrainingState) -> Bool {
        let differing = zip(counters(first), counters(second)).filter { $0.1 != $1.1 }
        for ((label, mine), (_, theirs)) in differing { print("  \(label.padding(14)) \(mine)  vs  \(theirs)") }
        let configAgrees = first.config == second.config
        if !configAgrees && first.configHash == second.configHash { print("  configurations differ (same hash)") }
        let agrees = differing.isEmpty && configAgrees && first.tensors == second.tensors
        print("state: \(agrees ? "identical" : "differs")")
        return agrees
    }

    /// Prints one line per section, and one per differing tensor under it. Returns whether every section
    /// agrees, and the largest difference relative to its section's scale.
    private func compareBuffers(_ first: Checkpoint, _ second: Checkpoint) -> (agree: Bool, largest: Double) {
        var agree = true, largest: Double = 0
        print(
            "  \("section".padding(10)) \("values".leftPadded(to: 9)) \("max |a-b|".leftPadded(to: 11)) "
                + "\("differing".leftPadded(to: 10)) \("of scale".leftPadded(to: 10))")
        for section in CheckpointSection.allCases where section != .state {
            switch (first.buffers[section], second.buffers[section]) {
            case (nil, nil):
                continue
            case let (mine?, theirs?) where mine.count == theirs.count:
                let difference = Difference(mine[...], theirs[...])
                let agrees = difference.count == 0 || (tolerance > 0 && difference.relative <= tolerance)
                agree = agree && agrees
                largest = max(largest, difference.relative)
                print(
                    "  \(section.rawValue.padding(10)) \(String(mine.count).leftPadded(to: 9)) "
                        + "\(difference.maximum.formatted.leftPadded(to: 11)) "
                        + "\(String(difference.count).leftPadded(to: 10)) "
                        + "\(difference.relative.formatted.leftPadded(to: 10))  \(agrees ? "ok" : "DIFFERS")")
                if difference.count > 0 { printTensors(section, first, mine, theirs) }
            case let (mine, theirs):
                agree = false
                largest = .infinity
                print(
                    "  \(section.rawValue.padding(10)) \(mine.map { "\($0.count) values" } ?? "absent") vs "
                        + "\(theirs.map { "\($0.count) values" } ?? "absent")  DIFFERS")
            }
        }
        return (agree, largest)
    }

    private func printTensors(
        _ section: CheckpointSection, _ checkpoint: Checkpoint, _ mine: [Float], _ theirs: [Float]
    ) {
        for entry in checkpoint.state.tensors where entry.section == section.tableSection {
            // Adam's moments are checked against the table only here: a short one has no tensors to list.
            let range = entry.offset..<(entry.offset + entry.shape.reduce(1, *))
            guard range.upperBound <= mine.count else { continue }
            let difference = Difference(mine[range], theirs[range])
            guard difference.count > 0 else { continue }
            print(
                "      \(entry.name) \(entry.shape): max |a-b| \(difference.maximum.formatted), "
                    + "\(difference.count) of \(range.count) differ")
        }
    }
}

/// How two equally long runs of floats differ; NaNs count as differing unless both are NaN with the same bits.
private struct Difference {
    var maximum: Double = 0
    var count = 0
    /// `maximum` over the largest magnitude of the second run (or over 1 when that is 0); infinite when a
    /// value differs by NaN or infinity.
    var relative: Double

    init(_ first: ArraySlice<Float>, _ second: ArraySlice<Float>) {
        var scale: Double = 0
        for (a, b) in zip(first, second) {
            scale = max(scale, Double(abs(b)))
            guard a.bitPattern != b.bitPattern else { continue }
            count += 1
            let gap = Double(abs(a - b))
            maximum = gap.isNaN ? .infinity : max(maximum, gap)
        }
        relative = count == 0 ? 0 : maximum / (scale > 0 && scale.isFinite ? scale : 1)
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        padding(toLength: max(width, count), withPad: " ", startingAt: 0)
    }
}

extension Double {
    fileprivate var formatted: String { self == 0 ? "0" : String(format: "%.3g", self) }
}
