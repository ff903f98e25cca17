import Engine
import Model

/// The averaged generator stored in a checkpoint, at the resolution and fade-in its run had reached:
/// what `generate`, `interpolate` and the metrics use, so they match the run's own sample grids.
public struct TrainedGenerator {
    public let generator: Generator
    public let weights: ParameterStore
    public let resolution: Int
    public let alpha: Float

    public init(checkpoint: Checkpoint, path: String) throws {
        let config = checkpoint.state.config
        let generator = Generator(config.network)
        // Compared before allocating: the configuration may describe a network larger than the machine.
        guard let values = checkpoint.buffers[.gEMA], values.count == generator.layout.count else {
            throw CheckpointError(path: path, problem: "no averaged generator of the size its configuration implies")
        }
        let weights = ParameterStore(layout: generator.layout)
        values.withUnsafeBufferPointer { weights.values.pointer.update(from: $0.baseAddress!, count: values.count) }
        self.generator = generator
        self.weights = weights
        let point = schedulePoint(
            imagesShown: checkpoint.state.imagesShown, config: config.schedule,
            finalResolution: config.network.resolution)
        resolution = point.resolution
        alpha = point.alpha
    }

    public var latentSize: Int { generator.config.latent }

    /// Images [N, C, R, R] in [-1, 1] for latents [N, latentSize]; from a conditional G, sample i is of
    /// class i mod classes.
    public func images(latents: Tensor) -> Tensor { images(latents: latents, labels: nil) }

    /// Images [N, C, R, R] in [-1, 1] for latents [N, latentSize] and one-hot classes [N, classes] (nil: as
    /// `images(latents:)`).
    public func images(latents: Tensor, labels: Tensor?) -> Tensor {
        withoutGradients {
            generator(latents, labels: labels, resolution: resolution, alpha: alpha, weights: Weights(weights))
        }
    }
}
