import Engine
import Foundation
import Model

/// Progress counters of a run: what a checkpoint must restore besides the weights.
public struct Progress: Equatable {
    public var step = 0
    public var imagesShown = 0
    /// Global index of the next sample in the seeded per-epoch order.
    public var dataPosition = 0
    /// Resolution and phase of the last step (4x4, stabilizing before the first).
    public var resolution = 4
    public var phase = Phase.stabilize

    public init(
        step: Int = 0, imagesShown: Int = 0, dataPosition: Int = 0, resolution: Int = 4,
        phase: Phase = .stabilize
    ) {
        (self.step, self.imagesShown, self.dataPosition) = (step, imagesShown, dataPosition)
        (self.resolution, self.phase) = (resolution, phase)
    }
}

/// One rank's copy of everything training changes: G, D, the averaged G, both optimizers' state and the
/// counters. Every rank holds an identical replica after every step.
public final class Replica {
    public let generator: Generator
    public let discriminator: Discriminator
    public let generatorWeights: ParameterStore
    public let discriminatorWeights: ParameterStore
    /// The exponential moving average of G's weights, used for samples and metrics.
    public let averagedGeneratorWeights: ParameterStore
    let generatorOptimizer: Adam
    let discriminatorOptimizer: Adam
    public internal(set) var progress = Progress()

    /// Fresh networks drawn from `recipe`'s seed; the averaged G starts as a copy of G.
    public init(_ recipe: TrainingRecipe) {
        generator = Generator(recipe.network)
        discriminator = Discriminator(recipe.network)
        generatorWeights = ParameterStore(layout: generator.layout)
        discriminatorWeights = ParameterStore(layout: discriminator.layout)
        averagedGeneratorWeights = ParameterStore(layout: generator.layout)
        var initial = PhiloxRandom(seed: recipe.seed).substream(1 << 61)
        initializeParameters(generatorWeights, random: &initial)
        initializeParameters(discriminatorWeights, random: &initial)
        averagedGeneratorWeights.copyValues(from: generatorWeights)
        let adam = recipe.adam
        generatorOptimizer = Adam(
            count: generatorWeights.count, beta1: adam.beta1, beta2: adam.beta2,
            epsilon: adam.epsilon)
        discriminatorOptimizer = Adam(
            count: discriminatorWeights.count, beta1: adam.beta1, beta2: adam.beta2,
            epsilon: adam.epsilon)
    }

    public func weights(_ network: Network) -> ParameterStore {
        network == .generator ? generatorWeights : discriminatorWeights
    }

    func optimizer(_ network: Network) -> Adam {
        network == .generator ? generatorOptimizer : discriminatorOptimizer
    }

    /// Parameters in use up to `resolution`: a prefix of the network's flat buffer.
    func activeParameterCount(_ network: Network, resolution: Int) -> Int {
        network == .generator
            ? generator.activeParameterCount(resolution: resolution)
            : discriminator.activeParameterCount(resolution: resolution)
    }

    /// Every float the replica holds, by checkpoint section, in section order.
    var buffers: [(section: CheckpointSection, buffer: FloatBuffer)] {
        [
            (.g, generatorWeights.values), (.d, discriminatorWeights.values),
            (.gEMA, averagedGeneratorWeights.values),
            (.adamGeneratorM, generatorOptimizer.firstMoment),
            (.adamGeneratorV, generatorOptimizer.secondMoment),
            (.adamDiscriminatorM, discriminatorOptimizer.firstMoment),
            (.adamDiscriminatorV, discriminatorOptimizer.secondMoment),
        ]
    }

    /// One line per parameter ("g.4x4.conv.weight 64x64x3x3"), the layout every rank must share.
    var layoutDescription: [String] {
        (generator.layout.parameters + discriminator.layout.parameters).map {
            "\($0.name) \($0.shape.map(String.init).joined(separator: "x"))"
        }
    }

    /// Moves the averaged G toward G by one step of decay `beta`, over the parameters in use.
    func updateAverage(beta: Float, resolution: Int) {
        updateMovingAverage(
            averagedGeneratorWeights.values.pointer, toward: generatorWeights.values.pointer,
            count: generator.activeParameterCount(resolution: resolution), beta: beta)
    }

    /// Images from the averaged generator at `point`'s resolution and fade-in (of classes `labels`).
    public func generateAveraged(latents: Tensor, labels: Tensor? = nil, at point: SchedulePoint) -> Tensor {
        withoutGradients {
            generator(
                latents, labels: labels, resolution: point.resolution, alpha: point.alpha,
                weights: Weights(averagedGeneratorWeights))
        }
    }
}

/// average ← β·average + (1 − β)·current, element by element.
public func updateMovingAverage(
    _ average: UnsafeMutablePointer<Float>, toward current: UnsafePointer<Float>,
    count: Int, beta: Float
) {
    for i in 0..<count { average[i] = current[i] + beta * (average[i] - current[i]) }
}
