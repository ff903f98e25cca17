import CheckpointFile
import Dataset
import Engine
import Foundation
import ImageIO
import Model
import XCTest
@testable import Training

/// A small prepared dataset of coloured squares on white, written once per test class.
private func makeDataset(in directory: String) throws -> PreparedDataset {
    let folder = directory + "/images"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for index in 0..<12 {
        var pixels = [UInt8](repeating: 255, count: 16 * 16 * 3)
        let color: [UInt8] = [UInt8(index * 20), UInt8(255 - index * 20), UInt8(index * 7 % 256)]
        for y in 4..<(8 + index % 6) { for x in 3..<12 { for c in 0..<3 { pixels[(y * 16 + x) * 3 + c] = color[c] } } }
        try RGBImage(width: 16, height: 16, pixels: pixels).write(path: String(format: "%@/%02d.png", folder, index))
    }
    try PreparedDataset.prepare(folder: folder, resolution: 16, output: directory + "/set.pgds")
    return try PreparedDataset(path: directory + "/set.pgds")
}

final class TrainerTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "/trainer-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Fast enough for a debug build: 4x4 -> 8x8 with a fade-in inside a few dozen steps.
    private var config: TrainingConfig {
        var config = TrainingConfig.tiny
        config.network = NetworkConfig(resolution: 8, fmapBase: 32, fmapMax: 8, latentSize: 8)
        config.schedule.stabilizeKimg = 0.04
        config.schedule.fadeKimg = 0.04
        config.totalKimg = 0.16
        config.mirror = true
        return config
    }

    private func values(_ store: ParameterStore) -> [Float] {
        Array(UnsafeBufferPointer(start: store.values.pointer, count: store.count))
    }

    /// A run restored from a checkpoint continues exactly as the uninterrupted run: same samples,
    /// latents, schedule and optimizer state, so the weights agree bit for bit, across a resolution change.

    func testTheCostProbeTimesTheResolutionsAheadWithinItsBudgetAndLeavesTrainingAlone() throws {
        let dataset = try makeDataset(in: directory)
        let config = TrainingConfig.tiny
        func trainedBytes() throws -> [UInt8] {
            let trainer = try Trainer(config: config, dataset: dataset)
            for _ in 0..<3 { try trainer.step() }
            return try trainer.checkpoint().serialized()
        }
        let before = try trainedBytes()
        let probe = try CostProbe.measure(
            config: config.with { $0.swdTicks = 2 }, dataset: dataset, rank: 0, ranks: 1, from: 8, inception: nil)
        XCTAssertEqual(probe.secondsPerImage.keys.sorted(), [8, 16])
        XCTAssertEqual(probe.qualitySecondsPerImage.keys.sorted(), [16], "SWD starts at 16x16")
        for (resolution, seconds) in probe.secondsPerImage.merging(probe.qualitySecondsPerImage, uniquingKeysWith: +) {
            XCTAssert(seconds > 0 && seconds < 1, "\(resolution)x\(resolution): \(seconds) s per image")
        }
        XCTAssertNil(probe.inceptionSecondsPerImage, "no Inception network, no FID to time")
        XCTAssertEqual(try trainedBytes(), before, "the scratch networks touch nothing a run computes")
        let unbudgeted = try CostProbe.measure(
            config: config, dataset: dataset, rank: 0, ranks: 1, from: 4, inception: nil, budgetSeconds: 0)
        XCTAssertEqual(unbudgeted.secondsPerImage.keys.sorted(), [4], "without a budget only the current one")
        // 2 micro-batches of 4 on 3 ranks: the last has no share to time.
        let idle = try CostProbe.measure(config: config, dataset: dataset, rank: 2, ranks: 3, from: 4, inception: nil)
        XCTAssertEqual(idle.secondsPerImage, [:])
        XCTAssertEqual(idle.qualitySecondsPerImage, [:], "rank 0 measures quality, and tiny measures none")
    }
    /// A rank's micro-batches run side by side on its threads, each into its own gradient buffer, and
    /// reach the reducer in micro-batch order: 1, 2 and 3 threads give the same checkpoint bytes, in fast
    /// mode (float sums, whose order matters) as in deterministic mode. Three micro-batches a step make a
    /// group of 2 and one left to share its kernels out on 2 threads, a group of 3 on 3.
    func testMicrobatchesSideBySideOnThreadsGiveTheSameBits() throws {
        let dataset = try makeDataset(in: directory)
        let threads = ThreadPool.threads
        defer { ThreadPool.threads = threads }
        for deterministic in [false, true] {
            let config = self.config.with {
                $0.deterministic = deterministic
                $0.schedule.minibatchDefault = 12
                $0.microbatch = 4
            }
            var checkpoints: [[UInt8]] = []
            for count in 1...3 {
                ThreadPool.threads = count
                let trainer = try Trainer(config: config, dataset: dataset)
                while trainer.progress.imagesShown < config.totalImages { try trainer.step() }
                checkpoints.append(try trainer.checkpoint().serialized())
            }
            XCTAssertEqual(checkpoints[1], checkpoints[0], "2 threads, deterministic \(deterministic)")
            XCTAssertEqual(checkpoints[2], checkpoints[0], "3 threads, deterministic \(deterministic)")
        }
    }

    func testResumeFromCheckpointIsExact() throws {
        try checkResumeIsExact(config)
    }

    /// The same for pro_gan_pytorch's architecture, whose D groups the stddev statistic strided.
    func testResumeFromCheckpointIsExactForTheProGANPyTorchArchitecture() throws {
        var config = self.config
        config.network.arch = .pgp
        config.microbatch = 8
        try checkResumeIsExact(config)
    }

    private func checkResumeIsExact(_ config: TrainingConfig) throws {
        let dataset = try makeDataset(in: directory)
        let uninterrupted = try Trainer(config: config, dataset: dataset)
        for _ in 0..<4 { try uninterrupted.step() }
        let path = directory + "/mid.ckpt"
        try uninterrupted.checkpoint().write(to: path)
        while uninterrupted.progress.imagesShown < config.totalImages { try uninterrupted.step() }

        let resumed = try Trainer(config: config, dataset: dataset)
        try resumed.restore(Checkpoint.read(path: path), path: path)
        XCTAssertEqual(resumed.progress.step, 4)
        while resumed.progress.imagesShown < config.totalImages { try resumed.step() }
        XCTAssertEqual(resumed.progress, uninterrupted.progress)
        XCTAssertEqual(resumed.progress.resolution, 8, "the run must have crossed into 8x8")
        XCTAssertEqual(values(resumed.replica.generatorWeights), values(uninterrupted.replica.generatorWeights))
        XCTAssertEqual(values(resumed.replica.discriminatorWeights), values(uninterrupted.replica.discriminatorWeights))
        XCTAssertEqual(
            values(resumed.replica.averagedGeneratorWeights), values(uninterrupted.replica.averagedGeneratorWeights))
    }

    /// A step abandoned between D's micro-batches (a stop request) leaves the replica as the previous
    /// step did: its checkpoint is the same bytes as one taken before the step began.
    func testAbandonedStepLeavesTheStateOfTheStepBefore() throws {
        var config = self.config
        config.microbatch = 4
        let dataset = try makeDataset(in: directory)
        let trainers = try (0..<2).map { _ in try Trainer(config: config, dataset: dataset) }
        for trainer in trainers { for _ in 0..<3 { try trainer.step() } }
        var questions = 0
        let log = try trainers[1].step(abandon: {
            questions += 1
            return questions == 2
        })
        XCTAssertNil(log)
        XCTAssertEqual(questions, 2, "asked before each of D's micro-batches until the answer was yes")
        XCTAssertEqual(try trainers[1].checkpoint().serialized(), try trainers[0].checkpoint().serialized())
        XCTAssertNotNil(try trainers[1].step(), "the abandoned step can be taken again")
        try trainers[0].step()
        XCTAssertEqual(try trainers[1].checkpoint().serialized(), try trainers[0].checkpoint().serialized())
    }

    func testTrainingMovesTheWeightsAndKeepsLossesFinite() throws {
        let trainer = try Trainer(config: config, dataset: try makeDataset(in: directory))
        let before = values(trainer.replica.generatorWeights)
        let log = try XCTUnwrap(trainer.step())
        XCTAssertEqual(log.map(\.0), ["d_loss", "wasserstein", "gp", "drift", "g_loss"])
        XCTAssertTrue(log.allSatisfy { $0.1.isFinite })
        XCTAssertNotEqual(values(trainer.replica.generatorWeights), before)
        XCTAssertEqual(trainer.progress.imagesShown, 8)
    }

    /// The first step of each phase sizes the tensor pool; every later step of the phase takes all its
    /// buffers from the pool, none from the system allocator. On one thread: passes side by side take
    /// and return buffers in whatever order they interleave, so their peak may grow for a few steps more.
    func testStepsAfterTheFirstOfAPhaseAllocateNothing() throws {
        let threads = ThreadPool.threads
        ThreadPool.threads = 1
        defer { ThreadPool.threads = threads }
        let trainer = try Trainer(config: config, dataset: try makeDataset(in: directory))
        TensorMemory.releaseUnused()  // what earlier tests left behind
        var previousPhase: (Int, Phase)?, steadySteps = 0
        while trainer.progress.imagesShown < config.totalImages {
            let phase = (trainer.schedule.resolution, trainer.schedule.phase)
            let before = TensorMemory.allocations
            try trainer.step()
            let allocated = TensorMemory.allocations - before
            if let previousPhase, previousPhase == phase {
                XCTAssertEqual(allocated, 0, "step \(trainer.progress.step) at \(phase)")
                steadySteps += 1
            } else {
                XCTAssertGreaterThan(allocated, 0, "the first step of \(phase) starts from an emptied pool")
            }
            previousPhase = phase
        }
        XCTAssertGreaterThan(steadySteps, 10)
    }

    /// Every sample is visited once per epoch, in a seeded order that changes between epochs.
    func testEpochOrderVisitsEverySampleOnce() throws {
        var source = try minibatchSource(dataset: makeDataset(in: directory))
        let first = (0..<12).map { source.datasetIndex($0) }, second = (12..<24).map { source.datasetIndex($0) }
        XCTAssertEqual(first.sorted(), Array(0..<12))
        XCTAssertEqual(second.sorted(), Array(0..<12))
        XCTAssertNotEqual(first, second)
    }

    /// Over an epoch, the micro-batches of 1 to 5 ranks together cover every sample exactly once (with 4
    /// and 5 ranks some hold none), and the global minibatches are the same whatever the number of ranks.
    func testMicrobatchesCoverEachEpochExactlyOnce() throws {
        let dataset = try makeDataset(in: directory)
        var config = self.config
        config.schedule.minibatchDefault = 12
        var batchesBySize: [[[Int]]] = []
        for size in 1...5 {
            let layout = try config.phaseLayout(at: 4, ranks: size)
            XCTAssertEqual(layout.idleRanks, max(0, size - 3), "\(size) ranks")
            var source = minibatchSource(dataset: dataset)
            // Two epochs of the 12-image dataset, one global minibatch each.
            let batches = [0, 12].map { position in
                (0..<size).flatMap { rank in
                    layout.samples(rank: rank).joined().map { source.datasetIndex(position + $0) }
                }
            }
            for batch in batches { XCTAssertEqual(batch.sorted(), Array(0..<dataset.count), "\(size) ranks") }
            batchesBySize.append(batches)
        }
        XCTAssertNotEqual(batchesBySize[0][0], batchesBySize[0][1], "each epoch has its own order")
        for batches in batchesBySize.dropFirst() { XCTAssertEqual(batches, batchesBySize[0]) }
    }

    private func minibatchSource(dataset: PreparedDataset) -> MinibatchSource {
        MinibatchSource(dataset: dataset, recipe: config.recipe, random: RandomStreams(seed: config.seed))
    }

    func testDatasetBelowTheRunResolutionIsRejected() throws {
        var config = self.config
        config.network.resolution = 32
        XCTAssertThrowsError(try Trainer(config: config, dataset: try makeDataset(in: directory))) {
            XCTAssertTrue("\($0)".contains("needs 32x32"), "\($0)")
        }
    }
}
