import ArgumentParser
import Dataset
import Foundation

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Time opening a prepared dataset and reading its first batch.",
        discussion: """
            Each repetition opens the file afresh (header only: the time must not grow with the dataset) and \
            reads one batch of random images at the top level, which verifies the chunks they lie in. With \
            --synthetic, first writes a dataset of noise images of that count (at --resolution) to the path.
            """)

    @Argument(help: ArgumentHelp("A prepared dataset file.", valueName: "dataset"))
    var dataset: String

    @Option(help: ArgumentHelp("Write a synthetic dataset of n images to the path first.", valueName: "n"))
    var synthetic: Int?

    @Option(help: ArgumentHelp("Side of the synthetic images.", valueName: "n"))
    var resolution = 64

    @Option(help: ArgumentHelp("Images in the batch.", valueName: "n"))
    var batch = 32

    @Option(help: ArgumentHelp("Timed repetitions.", valueName: "n"))
    var repetitions = 5

    func validate() throws {
        guard (1...1_000_000).contains(synthetic ?? 1) else {
            throw ValidationError("--synthetic must be 1 to 1000000")
        }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be 1 to 4096") }
        guard (1...1000).contains(repetitions) else { throw ValidationError("--repetitions must be 1 to 1000") }
    }

    func run() throws {
        if let synthetic {
            try PreparedDataset.writeSynthetic(count: synthetic, resolution: resolution, output: dataset)
        }
        var opens: [Double] = [], batches: [Double] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0...repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            let prepared = try PreparedDataset(path: dataset)
            let opened = DispatchTime.now().uptimeNanoseconds
            let side = prepared.resolution
            let indices = (0..<batch).map { _ in Int.random(in: 0..<prepared.count, using: &generator) }
            var output = [Float](repeating: 0, count: batch * PreparedDataset.channels * side * side)
            try prepared.fillBatch(indices: indices, resolution: side, mirror: nil, into: &output)
            let read = DispatchTime.now().uptimeNanoseconds
            opens.append(Double(opened - start) / 1e6)
            batches.append(Double(read - opened) / 1e6)
        }
        // The first repetition warms the page cache and is left out, as medianSeconds does.
        let size = (try? FileManager.default.attributesOfItem(atPath: dataset)[.size] as? Int) ?? 0
        print(
            "dataset=\(dataset) bytes=\(size) open_ms=\(formatted(median(opens.dropFirst()), 3)) "
                + "first_batch_ms=\(formatted(median(batches.dropFirst()), 3)) batch=\(batch)")
    }

    private func median(_ values: ArraySlice<Double>) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
