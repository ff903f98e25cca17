import ArgumentParser
import Dataset
import Distributed
import Engine
import Foundation
import SafeIO
import Safetensors
import Metrics
import Model
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a generator with the paper's metrics: sliced Wasserstein distance (SWD) and MS-SSIM.",
        discussion: """
            SWD (x1e3, as the paper reports it) compares --images generated images with as many real ones at \
            every Laplacian-pyramid level from the generator's resolution down to 16x16; lower is better. \
            --reals-vs-reals compares two independent sets of real images instead: the noise floor that \
            generated images can at best reach with this many images. MS-SSIM is the mean similarity of \
            consecutive image pairs, the paper's diversity measure: a generator that collapses to few images \
            scores higher than the reals.

            --fid and --kid add the Fréchet and kernel Inception distances (StyleGAN2-ADA's definitions) between \
            the generated images (or --generated FOLDER's) and as many reals, with the 2015 TensorFlow Inception \
            network that FID is defined by, run by our engine (install it once with \
            scripts/torch/install-inception.sh). The reals' features are cached beside a prepared dataset file.

            Under mpirun every rank generates and describes its own share of the images; rank 0 prints. \
            The same seed, checkpoint and dataset give the same numbers on any number of ranks.
            """)

    @Argument(
        help: ArgumentHelp(
            "Checkpoint whose averaged generator is measured, e.g. "
                + "RUN_DIR/checkpoints/final.ckpt.", valueName: "checkpoint"))
    var checkpoint: String?
    @Option(help: ArgumentHelp("A prepared dataset file, or a folder of PNG images.", valueName: "path"))
    var dataset: String
    @Option(help: ArgumentHelp("Images per set, an even number (the official evaluation uses 16384).", valueName: "n"))
    var images = 1024
    @Option(help: ArgumentHelp("Seed of the latents, the real-image order and the SWD draws.", valueName: "n"))
    var seed: UInt64 = 0
    @Flag(
        name: .customLong("reals-vs-reals"), inversion: .prefixedNo,
        help: "Also (or, without a checkpoint, only) measure two independent sets of reals.")
    var realsVsReals = false
    @Option(
        help: ArgumentHelp(
            "Side in pixels of the images measured with --reals-vs-reals and no checkpoint "
                + "(default: the dataset's resolution).", valueName: "n"))
    var resolution: Int?
    @Option(
        help: ArgumentHelp(
            "A folder of generated images (PNG or JPEG) measured in place of a checkpoint's.", valueName: "folder"))
    var generated: String?
    @Flag(help: "Also measure the Fréchet Inception distance (FID) between generated images and the reals.")
    var fid = false
    @Flag(help: "Also measure the kernel Inception distance (KID) between generated images and the reals.")
    var kid = false
    @Option(
        name: .customLong("features-out"),
        help: ArgumentHelp(
            "Write the generated images' Inception features ([images, 2048]) to this safetensors file.",
            valueName: "path"))
    var featuresOut: String?

    func validate() throws {
        guard (2...Self.imageLimit).contains(images), images % 2 == 0 else {
            throw ValidationError("--images must be an even number from 2 to \(Self.imageLimit)")
        }
        guard checkpoint == nil || generated == nil else {
            throw ValidationError("give a checkpoint or --generated, not both")
        }
        guard checkpoint != nil || generated != nil || realsVsReals else {
            throw ValidationError("give a checkpoint, --generated or --reals-vs-reals")
        }
        guard !(fid || kid || featuresOut != nil) || checkpoint != nil || generated != nil else {
            throw ValidationError(
                "--fid, --kid and --features-out measure generated images: give a checkpoint or --generated")
        }
    }

    /// Far more than the official evaluation's 16384; the memory check is the real bound.
    static let imageLimit = 1 << 22

    func run() throws {
        let world = joinWorld()
        do {
            let inception = try fid || kid || featuresOut != nil ? InceptionScores.network(for: "--fid") : nil
            // Each set's features are gathered on every rank: two sets of --images x 2048 floats, plus a copy.
            if inception != nil {
                try MemoryBudget.require(
                    Double(3 * images * InceptionFeatures.featureCount * 4), for: "--images \(images) with --fid")
            }
            let trained = try checkpoint.map { try TrainedGenerator(checkpoint: Checkpoint.read(path: $0), path: $0) }
            let reals = try preparedDataset(dataset, resolution: trained?.resolution ?? resolution)
            let side = trained?.resolution ?? resolution ?? reals.resolution
            let folder = try generated.map { try preparedDataset($0, resolution: side) }
            guard side >= SlicedWasserstein.smallestLevel else {
                throw ConfigError(
                    message: "\(checkpoint ?? dataset): the metrics need at least 16x16 images, this is \(side)x\(side)"
                )
            }
            guard reals.levels.contains(side) else {
                throw ConfigError(
                    message:
                        "\(dataset): holds images up to \(reals.resolution)x\(reals.resolution), not \(side)x\(side)")
            }
            // Every set's descriptors are gathered on rank 0; up to three sets (reals, generated, reals again).
            try MemoryBudget.require(
                MemoryBudget.metricDescriptors(images: images, sets: 3, resolution: side), for: "--images \(images)")
            let batchSize = 16
            let positions = metricShare(of: images, batchSize: batchSize, rank: world.rank, ranks: world.size)
            let swd = SlicedWasserstein(resolution: side, seed: seed)

            func measured(_ images: (Range<Int>) throws -> ImageBatch) throws -> MetricSet {
                var set = MetricSet(swd: swd)
                try feed(&set, positions: positions, batchSize: batchSize, images: images)
                return set
            }
            let firstReals = try measured { try MetricImages.reals(reals, positions: $0, resolution: side, seed: seed) }
            var rows: [(String, [Double])] = []
            var similarity: [(String, Double, Int)] = [
                ("reals", firstReals.multiScaleSSIMSum, firstReals.multiScaleSSIMPairs)
            ]
            let realDescriptors = try gathered(firstReals.descriptors, over: world)
            let generatedImages: ((Range<Int>) throws -> ImageBatch)? =
                if let trained {
                    {
                        MetricImages.generated(
                            positions: $0, latentSize: trained.latentSize, seed: seed, generator: trained.images)
                    }
                } else if let folder {
                    { try MetricImages.stored(folder, positions: $0, resolution: side) }
                } else { nil }
            if let generatedImages {
                let generated = try measured(generatedImages)
                similarity.append(("generated", generated.multiScaleSSIMSum, generated.multiScaleSSIMPairs))
                if let generatedDescriptors = try gathered(generated.descriptors, over: world), let realDescriptors {
                    rows.append(("generated vs reals", swd.distances(generatedDescriptors, realDescriptors)))
                }
            }
            if realsVsReals {
                // The second set walks the dataset in another order: an independent draw of the same size.
                let secondReals = try measured {
                    try MetricImages.reals(reals, positions: $0, resolution: side, seed: ~seed)
                }
                if let secondDescriptors = try gathered(secondReals.descriptors, over: world), let realDescriptors {
                    rows.append(("reals vs reals (floor)", swd.distances(secondDescriptors, realDescriptors)))
                }
            }
            if let inception, let generatedImages {
                try printInceptionScores(inception, reals: reals, side: side, world: world, generatedImages)
            }
            var sums = similarity.flatMap { [$0.1, Double($0.2)] }
            try (world as Collective).sum(&sums)
            if world.rank == 0 {
                printTable(levels: swd.levels, rows: rows, side: side)
                let scores = similarity.indices.map {
                    "\(similarity[$0].0) \(String(format: "%.4f", sums[2 * $0] / sums[2 * $0 + 1]))"
                }
                print("MS-SSIM over \(Int(sums[1])) pairs: " + scores.reversed().joined(separator: ", "))
            }
            try world.finalize()
        } catch {
            world.endJob(error)
        }
    }

    private func printTable(levels: [Int], rows: [(String, [Double])], side: Int) {
        print("sliced Wasserstein distance x1e3, \(images) images per set at \(side)x\(side), seed \(seed)")
        let labelWidth = 24
        let header =
            "".padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            + (levels.map { "\($0)x\($0)" } + ["mean"]).map { $0.leftPadded(to: 10) }.joined()
        print(header)
        for (label, distances) in rows {
            let values = distances + [distances.reduce(0, +) / Double(distances.count)]
            print(
                label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
                    + values.map { String(format: "%.3f", $0).leftPadded(to: 10) }.joined())
        }
    }

    /// Every rank's descriptors concatenated in rank order, on rank 0 (nil elsewhere).
    private func gathered(_ descriptors: [[Float]], over ranks: Collective) throws -> [[Float]]? {
        guard ranks.size > 1 else { return descriptors }
        var result: [[Float]] = []
        for level in descriptors {
            let blocks = try ranks.allgather(unevenBytes: level.withUnsafeBytes { Array($0) })
            result.append(blocks.flatMap { block in block.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } })
        }
        return ranks.rank == 0 ? result : nil
    }

    /// FID and KID of the generated images against as many reals, on rank 0's output; features written
    /// to --features-out.
    private func printInceptionScores(
        _ network: InceptionFeatures, reals: PreparedDataset, side: Int, world: Collective,
        _ generatedImages: (Range<Int>) throws -> ImageBatch
    ) throws {
        let generatedFeatures = try InceptionScores.features(
            count: images, network: network, over: world, images: generatedImages)
        if let featuresOut, world.rank == 0 {
            try SafetensorsFile(
                tensors: [
                    .init(name: "features", shape: [images, InceptionFeatures.featureCount], values: generatedFeatures)
                ],
                metadata: ["images": "\(images)", "seed": "\(seed)"]
            ).write(to: featuresOut)
        }
        guard fid || kid else { return }
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: dataset, isDirectory: &isFolder)
        let realFeatures = try InceptionScores.realFeatures(
            reals, count: images, resolution: side, seed: seed, cacheBeside: isFolder.boolValue ? nil : dataset,
            network: network, over: world)
        let (frechet, kernel) = try InceptionScores.scores(
            real: realFeatures, generated: generatedFeatures, fid: fid, kid: kid, seed: seed)
        guard world.rank == 0 else { return }
        let sets = "\(images) generated vs \(images) real images at \(side)x\(side), Inception at 299x299"
        if let frechet { print("FID \(String(format: "%.4f", frechet)) (\(sets))") }
        if let kernel { print("KID \(String(format: "%.6f", kernel)) (\(sets))") }
    }

    /// `path` if it is a prepared file; for a folder, a prepared copy of this rank's own, made in a
    /// scratch directory that is gone once the file has been read.
    private func preparedDataset(_ path: String, resolution: Int?) throws -> PreparedDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(message: "\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return try PreparedDataset(path: path) }
        let scratch = try TemporaryPaths.makeDirectory(named: "progan-evaluate")
        defer { TemporaryPaths.remove(scratch) }
        _ = try PreparedDataset.prepare(folder: path, resolution: resolution, output: scratch + "/set.pgds")
        return try PreparedDataset(path: scratch + "/set.pgds")
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(width - count, 0)) + self }
}
