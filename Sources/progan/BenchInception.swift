import ArgumentParser
import Engine
import Foundation
import Metrics
import Training

struct BenchInception: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inception",
        abstract: "Time the FID Inception network's features on random 299x299 images.",
        discussion: """
            Prints images/s, the median of the repetitions after a warm-up, in batches of 8 as `evaluate --fid` \
            runs them; scripts/bench.sh sets it beside PyTorch's on the same thread count \
            (scripts/torch/fid_reference.py bench). Needs the weights (scripts/torch/install-inception.sh).
            """)

    @Option(help: ArgumentHelp("Images per repetition, a multiple of 8.", valueName: "n"))
    var images = 16
    @Option(help: ArgumentHelp("The engine's threads.", valueName: "n"))
    var threads = 1
    @Option(help: ArgumentHelp("Timed repetitions.", valueName: "n"))
    var repetitions = 3

    func validate() throws {
        guard (1...4096).contains(images), images % InceptionScores.batchSize == 0 else {
            throw ValidationError("--images must be a multiple of \(InceptionScores.batchSize) from 8 to 4096")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1 to 256") }
        guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions must be 1 to 100") }
    }

    func run() throws {
        let network = try InceptionScores.network(for: "bench inception")
        ThreadPool.threads = threads
        var random = PhiloxRandom(seed: 1)
        let side = InceptionFeatures.inputSide, size = 8 * ImageBatch.channels * side * side
        let batch = ImageBatch(
            count: 8, side: side, values: (0..<size).map { _ in Float(random.integer(below: 256)) })
        let seconds = medianSeconds(repetitions: repetitions) {
            for _ in 0..<(images / 8) { _ = network.features(of: batch) }
        }
        print(
            "progan inception: \(formatted(Double(images) / seconds, 2)) images/s "
                + "(median of \(repetitions), \(threads) threads)"
        )
    }
}
