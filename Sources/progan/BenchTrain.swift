import ArgumentParser
import Dataset
import Distributed
import Engine
import Foundation
import SafeIO
import Training
import TrainingOptions

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training images/s at one resolution, with the share of time spent reducing gradients.",
        discussion: """
            Run it under mpirun to measure ranks (scripts/bench.sh does, for 1 rank x 1 thread, 1 rank x 2 \
            threads and 2 ranks x 1 thread). Rank 0 prints one line of key=value figures, including the \
            time a bare allreduce of the same number of floats takes in the same run, the bytes the gradient \
            allreduces sum per step, how many they are, and the algorithm OpenMPI's libnbc picks for a full \
            bucket (by its 4.1 rule); per rank, rank 0 \
            first: the time per step spent combining gradients (reduce_ms, including waiting for slower \
            ranks; the rest of a step is computing) and the peak resident set (MiB); and how many tensor \
            buffers a timed step took from the system allocator instead of the pool (none once the first \
            steps have sized it).
            """)

    @Option(help: ArgumentHelp("Prepared dataset or PNG folder.", valueName: "path"))
    var dataset = "/usr/share/javascript/emojify.js/images/emoji"
    @OptionGroup var options: ConfigOptions
    @Option(help: "Global minibatch.") var minibatch = 16
    @Option(help: "Timed steps (after the warm-up).") var steps = 8
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Flag(inversion: .prefixedNo, help: "Exact fixed-point gradient reduction (default: the configuration's).")
    var deterministic: Bool?
    @Option(help: "Engine threads per rank.") var threads = 1
    @Option(help: "Images per forward/backward pass (default: the configuration's).") var microbatch: Int?

    func run() throws {
        let world: Communicator
        do { world = try Communicator.world() } catch { fail(error) }
        do {
            var config = try options.resolved()
            config.schedule.stabilizeKimg = 0
            config.schedule.fadeKimg = 0
            config.schedule.minibatch = [:]
            config.schedule.minibatchDefault = minibatch
            config.totalKimg = Double((steps + warmup) * minibatch) / 1000
            if let deterministic { config.deterministic = deterministic }
            if let microbatch { config.microbatch = microbatch }
            try config.validate(worldSize: world.size)
            try config.requireMemory(ranks: world.size, threads: threads)
            ThreadPool.threads = threads
            let prepared = try benchmarkDataset(resolution: config.network.resolution, world: world)
            let trainer = try Trainer(config: config, dataset: prepared, collective: world)
            try ReplicaGroup(world).synchronize(trainer.replica)
            for _ in 0..<warmup { try trainer.step() }
            let reducedBefore = trainer.reductionSeconds, allocatedBefore = TensorMemory.allocations
            let reductionsBefore = trainer.reductions
            try world.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps { try trainer.step() }
            try world.barrier()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let reduction = trainer.reductionSeconds - reducedBefore
            let allreduces = (
                count: trainer.reductions.count - reductionsBefore.count,
                bytes: trainer.reductions.bytes - reductionsBefore.bytes
            )
            let fullBucketBytes = config.bucketValues * (config.deterministic ? 8 : 4)
            let allocated = TensorMemory.allocations - allocatedBefore
            let gradientCount = trainer.replica.generatorWeights.count + trainer.replica.discriminatorWeights.count
            let bare = try bareAllreduceSeconds(count: gradientCount, world: world)
            let perRank = try (world as Collective).allgather([
                TensorMemory.peakResidentMiB, reduction / Double(steps) * 1000,
            ])
            if world.rank == 0 {
                print(
                    "ranks=\(world.size) threads=\(threads) "
                        + "resolution=\(config.network.resolution) minibatch=\(minibatch) "
                        + "deterministic=\(config.deterministic) "
                        + "images_per_second=\(formatted(Double(steps * minibatch) / seconds, 2)) "
                        + "step_ms=\(formatted(seconds / Double(steps) * 1000, 1)) "
                        + "reduce_share=\(formatted(100 * reduction / seconds, 2))% "
                        + "reduce_ms=\(perRank.map { formatted($0[1], 1) }.joined(separator: "/")) "
                        + "bare_allreduce_ms=\(formatted(bare * 1000, 3)) gradient_floats=\(gradientCount) "
                        + "allreduce_bytes_per_step=\(allreduces.bytes / steps) "
                        + "allreduces_per_step=\(formatted(Double(allreduces.count) / Double(steps), 1)) "
                        + "allreduce_algorithm="
                        + Communicator.iallreduceAlgorithm(ranks: world.size, bytes: fullBucketBytes)
                        .replacingOccurrences(of: " ", with: "_") + " "
                        + "peak_rss_mib=\(perRank.map { formatted($0[0], 1) }.joined(separator: "/")) "
                        + "fresh_allocations_per_step=\(formatted(Double(allocated) / Double(steps), 1)) "
                        + "blas_kernels=\(blasKernels.replacingOccurrences(of: " ", with: "_"))")
            }
            try world.finalize()
        } catch {
            if world.size > 1 { world.abort(message: "\(error)") }
            fail(error)
        }
    }

    /// The dataset to read, prepared by rank 0 into a scratch directory when given a folder (the ranks of a
    /// benchmark share a host); the directory goes once every rank has read the file.
    private func benchmarkDataset(resolution: Int, world: Collective) throws -> PreparedDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataset, isDirectory: &isDirectory), isDirectory.boolValue else {
            return try PreparedDataset(path: dataset)
        }
        var scratch: String?
        if world.rank == 0 {
            scratch = try TemporaryPaths.makeDirectory(named: "progan-bench")
            try PreparedDataset.prepare(folder: dataset, resolution: resolution, output: scratch! + "/set.pgds")
        }
        let path = String(decoding: try world.allgather(unevenBytes: Array((scratch ?? "").utf8))[0], as: UTF8.self)
        let prepared = try PreparedDataset(path: path + "/set.pgds")
        try world.barrier()
        if let scratch { TemporaryPaths.remove(scratch) }
        return prepared
    }

    /// Median time of a plain float allreduce of `count` values: the floor the trainer's reduction is
    /// compared against.
    private func bareAllreduceSeconds(count: Int, world: Collective) throws -> Double {
        let buffer = FloatBuffer(count: count)
        let values = UnsafeMutableBufferPointer(start: buffer.pointer, count: count)
        var failure: Error?
        let seconds = medianSeconds(repetitions: 9) {
            do { try world.sum(values) } catch { failure = error }
        }
        if let failure { throw failure }
        return seconds
    }
}
