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
            threads and 2 ranks x 1 thread). Rank 0 prints one line of key=value figures per variant (thread \
            count and reduction, see --threads and --alternate-reduction), including the \
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
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Engine threads per rank; several counts alternate their steps.",
            discussion: """
                With several counts, the same trainers take their steps with each count in turn (A B B A \
                A B ..., the pool resized between steps), so that a thread scaling compares the counts on the \
                same machine state instead of in processes minutes apart. Deterministic runs compute the \
                same bits at any count, so the counts share one trainer without changing what it computes.
                """))
    var threads = [1]
    @Option(help: "Images per forward/backward pass (default: the configuration's).") var microbatch: Int?
    @Flag(
        help: ArgumentHelp(
            "Also time a trainer with the other gradient reduction, steps alternating.",
            discussion: """
                A second trainer, the same but for the reduction (fast if the first is deterministic, and \
                the reverse), takes its steps between the first's in the order A B B A A B ..., so that the \
                machine's drifts in speed hit both alike; each prints its own line. Peak RSS is then that of \
                both trainers.
                """))
    var alternateReduction = false

    func validate() throws {
        guard (1...1_000_000).contains(steps) else { throw ValidationError("--steps must be 1 to 1000000") }
        guard (0...1_000_000).contains(warmup) else { throw ValidationError("--warmup must be 0 to 1000000") }
        guard !threads.isEmpty, threads.allSatisfy({ (1...RunSettings.threadLimit).contains($0) }) else {
            throw ValidationError("--threads takes counts from 1 to \(RunSettings.threadLimit)")
        }
    }

    /// One trainer at one thread count, and what its timed steps took.
    private final class Variant {
        let trainer: Trainer
        let threads: Int
        var seconds = 0.0, reduction = 0.0, allreduces = (count: 0, bytes: 0)

        init(_ trainer: Trainer, threads: Int) {
            self.trainer = trainer
            self.threads = threads
        }

        /// `count` steps at this variant's thread count; timed between barriers of `world` when given,
        /// a warm-up otherwise.
        func step(_ count: Int, timedOver world: Communicator?) throws {
            if ThreadPool.threads != threads { ThreadPool.threads = threads }
            let reducedBefore = trainer.reductionSeconds, allreducesBefore = trainer.reductions
            try world?.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<count { try trainer.step() }
            try world?.barrier()
            guard world != nil else { return }
            seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            reduction += trainer.reductionSeconds - reducedBefore
            allreduces.count += trainer.reductions.count - allreducesBefore.count
            allreduces.bytes += trainer.reductions.bytes - allreducesBefore.bytes
        }
    }

    func run() throws {
        let world: Communicator
        do { world = try Communicator.world() } catch { fail(error) }
        do {
            var config = try options.resolved()
            config.schedule.stabilizeKimg = 0
            config.schedule.fadeKimg = 0
            config.schedule.minibatch = [:]
            config.schedule.minibatchDefault = minibatch
            let variantCount = threads.count * (alternateReduction ? 2 : 1)
            config.totalKimg = Double((steps + warmup) * minibatch * variantCount) / 1000
            if let deterministic { config.deterministic = deterministic }
            if let microbatch { config.microbatch = microbatch }
            try config.validate(worldSize: world.size)
            try config.requireMemory(
                ranks: world.size, threads: threads.max()!, trainers: alternateReduction ? 2 : 1)
            ThreadPool.threads = threads[0]
            let prepared = try benchmarkDataset(resolution: config.network.resolution, world: world)
            var configs = [config]
            if alternateReduction {
                configs.append(config)
                configs[1].deterministic.toggle()
            }
            let trainers = try configs.map { try Trainer(config: $0, dataset: prepared, collective: world) }
            for trainer in trainers {
                try ReplicaGroup(world).synchronize(trainer.replica)
            }
            let variants = threads.flatMap { count in trainers.map { Variant($0, threads: count) } }
            for variant in variants { try variant.step(warmup, timedOver: nil) }
            let allocatedBefore = TensorMemory.allocations
            try timeSteps(variants, world: world)
            let allocated = Double(TensorMemory.allocations - allocatedBefore) / Double(variantCount * steps)
            let gradientCount =
                trainers[0].replica.generatorWeights.count
                + trainers[0].replica.discriminatorWeights.count
            let bare = try bareAllreduceSeconds(count: gradientCount, world: world)
            let perRank = try (world as Collective).allgather(
                [TensorMemory.peakResidentMiB] + variants.map { $0.reduction / Double(steps) * 1000 })
            guard world.rank == 0 else { return try world.finalize() }
            for (index, variant) in variants.enumerated() {
                let deterministic = variant.trainer.config.deterministic
                let fullBucketBytes = config.bucketValues * (deterministic ? 8 : 4)
                print(
                    "ranks=\(world.size) threads=\(variant.threads) "
                        + "resolution=\(config.network.resolution) minibatch=\(minibatch) "
                        + "deterministic=\(deterministic) "
                        + "images_per_second=\(formatted(Double(steps * minibatch) / variant.seconds, 2)) "
                        + "step_ms=\(formatted(variant.seconds / Double(steps) * 1000, 1)) "
                        + "reduce_share=\(formatted(100 * variant.reduction / variant.seconds, 2))% "
                        + "reduce_ms=\(perRank.map { formatted($0[index + 1], 1) }.joined(separator: "/")) "
                        + "bare_allreduce_ms=\(formatted(bare * 1000, 3)) gradient_floats=\(gradientCount) "
                        + "allreduce_bytes_per_step=\(variant.allreduces.bytes / steps) "
                        + "allreduces_per_step=\(formatted(Double(variant.allreduces.count) / Double(steps), 1)) "
                        + "allreduce_algorithm="
                        + Communicator.iallreduceAlgorithm(ranks: world.size, bytes: fullBucketBytes)
                        .replacingOccurrences(of: " ", with: "_") + " "
                        + "peak_rss_mib=\(perRank.map { formatted($0[0], 1) }.joined(separator: "/")) "
                        + "fresh_allocations_per_step=\(formatted(allocated, 1)) "
                        + "blas_kernels=\(blasKernels.replacingOccurrences(of: " ", with: "_"))"
                        + (variantCount > 1 ? " alternating_variants=\(variantCount)" : ""))
            }
            try world.finalize()
        } catch {
            if world.size > 1 { world.abort(message: "\(error)") }
            fail(error)
        }
    }

    /// Times every variant's `steps` steps. One variant is timed over all of them; several take turns,
    /// forward then backward (A B B A A B ...), each step timed between barriers, so that all see the
    /// same drifts of the machine's speed.
    private func timeSteps(_ variants: [Variant], world: Communicator) throws {
        guard variants.count > 1 else { return try variants[0].step(steps, timedOver: world) }
        for round in 0..<steps {
            for turn in variants.indices {
                try variants[round % 2 == 0 ? turn : variants.count - 1 - turn].step(1, timedOver: world)
            }
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
