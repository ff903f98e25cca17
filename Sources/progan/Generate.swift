import ArgumentParser
import Engine
import Foundation
import ImageIO
import SafeIO
import Training

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write images from a checkpoint's averaged generator.",
        discussion: "Latents come from --seed, so the same seed and checkpoint always give the same images.")

    @Option(help: ArgumentHelp("Checkpoint file.", valueName: "file")) var checkpoint: String
    @Option(help: "Number of images.") var count = 16
    @Option(help: ArgumentHelp("Output directory.", valueName: "dir")) var out: String
    @Option(help: "Seed of the latents.") var seed: UInt64 = 0
    @Flag(help: "Write one grid image (grid.png) instead of one file per image.") var grid = false

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
    }

    func run() throws {
        do {
            let trained = try TrainedGenerator(checkpoint: Checkpoint.read(path: checkpoint), path: checkpoint)
            try createDirectory(out)
            var random = PhiloxRandom(seed: seed)
            let images = trained.images(latents: random.normal(shape: [count, trained.latentSize]))
            if grid {
                try imageGrid(images, columns: gridColumnCount(count), cellSize: trained.resolution).write(path: "\(out)/grid.png")
                print("wrote \(out)/grid.png (\(count) images at \(trained.resolution)x\(trained.resolution))")
            } else {
                for index in 0..<count {
                    try imageGrid(sliceSamples(images, index), columns: 1, cellSize: trained.resolution)
                        .write(path: String(format: "%@/seed%llu-%04d.png", out, seed, index))
                }
                print("wrote \(count) images at \(trained.resolution)x\(trained.resolution) to \(out)")
            }
        } catch { fail(error) }
    }
}

/// Image `index` of a batch, as a batch of one.
func sliceSamples(_ images: Tensor, _ index: Int) -> Tensor {
    let perImage = images.count / images.shape[0]
    return Tensor(shape: [1] + images.shape.dropFirst(),
                  values: Array(UnsafeBufferPointer(start: images.pointer + index * perImage, count: perImage)))
}
