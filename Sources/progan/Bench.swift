import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the engine's speed against a baseline measured in the same run.",
        discussion: """
            Every figure is a median over repetitions after a warm-up, printed beside a baseline from the \
            same process, because machines here are noisy and absolute numbers drift between runs.
            """,
        subcommands: [BenchConv.self, BenchTrain.self, BenchData.self, BenchInception.self])
}

/// Median wall time in seconds of `repetitions` runs of `body`, after one untimed warm-up run.
func medianSeconds(repetitions: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    times.sort()
    return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
}

func formatted(_ value: Double, _ decimals: Int = 1) -> String { String(format: "%.\(decimals)f", value) }
