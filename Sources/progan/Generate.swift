import ArgumentParser
import Engine
import Foundation
import ImageIO
import Model
import SafeIO
import Training

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write images from a checkpoint's averaged generator.",
        discussion: "Latents come from --seed, so the same seed and checkpoint always give the same images: "
            + "DIR/seedSEED-NNNN.png, or one DIR/grid.png with --grid. A conditional generator makes the classes "
            + "in turn, or only --class.")

    @Argument(help: ArgumentHelp("Checkpoint file, e.g. RUN_DIR/checkpoints/final.ckpt.", valueName: "checkpoint"))
    var checkpoint: String
    @Option(help: ArgumentHelp("Output directory, created if missing.", valueName: "dir")) var out: String
    @Option(help: ArgumentHelp("How many images to write.", valueName: "n")) var images = 16
    @Option(help: ArgumentHelp("Seed of the latents.", valueName: "n")) var seed: UInt64 = 0
    @Option(
        name: .customLong("class"),
        help: ArgumentHelp(
            "Images of this class only (a conditional checkpoint's class name or index).",
            valueName: "name|index"))
    var className: String?
    @Flag(inversion: .prefixedNo, help: "Write the images as one grid, DIR/grid.png, instead of one file each.")
    var grid = false

    func validate() throws {
        try checkOutputPath(out, "--out")
        guard (1...Self.imageLimit).contains(images) else {
            throw ValidationError("--images must be positive, at most \(Self.imageLimit)")
        }
    }

    /// Far more than one batch can hold at any resolution; the memory check below is the real bound.
    static let imageLimit = 1 << 20

    func run() throws {
        do {
            let trained = try TrainedGenerator(checkpoint: Checkpoint.read(path: checkpoint), path: checkpoint)
            try MemoryBudget.require(
                MemoryBudget.generation(
                    trained.generator.config, resolution: trained.resolution, count: images),
                for: "--images \(images)")
            try createDirectory(out)
            var random = PhiloxRandom(seed: seed)
            let batch = trained.images(
                latents: random.normal(shape: [images, trained.latentSize]), labels: try classLabels(trained))
            if grid {
                try imageGrid(batch, columns: gridColumnCount(images), cellSize: trained.resolution)
                    .write(path: "\(out)/grid.png")
                print("wrote \(out)/grid.png (\(images) images at \(trained.resolution)x\(trained.resolution))")
            } else {
                for index in 0..<images {
                    try imageGrid(sliceSamples(batch, index), columns: 1, cellSize: trained.resolution)
                        .write(path: String(format: "%@/seed%llu-%04d.png", out, seed, index))
                }
                print("wrote \(images) images at \(trained.resolution)x\(trained.resolution) to \(out)")
            }
        } catch { fail(error) }
    }
}

extension Generate {
    /// One-hot labels of --class for every image; nil without it.
    func classLabels(_ trained: TrainedGenerator) throws -> Tensor? {
        guard let className else { return nil }
        guard let conditioning = trained.generator.config.conditioning else {
            throw ConfigError(message: "\(checkpoint): --class \(className): the checkpoint is of an unconditional run")
        }
        guard let index = conditioning.classIndex(className) else {
            throw ConfigError(
                message: "\(checkpoint): --class \(className) is not one of its classes "
                    + "(\(conditioning.classNames.joined(separator: ", "))), nor an index from 0 to "
                    + "\(conditioning.classes - 1)")
        }
        return oneHot(Array(repeating: index, count: images), classes: conditioning.classes)
    }
}

/// Image `index` of a batch, as a batch of one.
func sliceSamples(_ images: Tensor, _ index: Int) -> Tensor {
    let perImage = images.count / images.shape[0]
    return Tensor(
        shape: [1] + images.shape.dropFirst(),
        values: Array(UnsafeBufferPointer(start: images.pointer + index * perImage, count: perImage)))
}
