import Model

/// What the networks of a configuration cost per image at each resolution, read from their parameter
/// layouts: the basis of `progan plan`'s memory and time estimates.
public struct NetworkCosts: Sendable {
    public let generatorParameters: Int
    public let discriminatorParameters: Int
    private let activeCounts: [Int: (generator: Int, discriminator: Int)]
    private let layers: [Layer]

    /// One weight of G or D: the block resolution it works at and what it costs one image.
    private struct Layer: Sendable {
        let resolution: Int
        let isConverter: Bool
        let multiplyAdds: Double
        let outputs: Double
        /// Values of the im2col patch matrix a convolution builds (0 for a dense layer).
        let patches: Double
    }

    public init(_ network: NetworkConfig) {
        let generator = Generator(network), discriminator = Discriminator(network)
        generatorParameters = generator.layout.count
        discriminatorParameters = discriminator.layout.count
        activeCounts = Dictionary(
            uniqueKeysWithValues: network.resolutions.map {
                (
                    $0,
                    (generator.activeParameterCount(resolution: $0), discriminator.activeParameterCount(resolution: $0))
                )
            })
        layers = (generator.layout.parameters + discriminator.layout.parameters).compactMap { parameter in
            // Names read "g.16x16.conv0.weight": the block's resolution is the second part.
            let parts = parameter.name.split(separator: ".")
            guard parameter.role == .weight, parts.count >= 3,
                let resolution = parts[1].split(separator: "x").first.flatMap({ Int($0) })
            else { return nil }
            let shape = parameter.shape, pixels = Double(resolution * resolution)
            let isConverter = parts[2].hasSuffix("rgb")
            guard shape.count == 4 else {
                // A dense layer: one multiply-add per weight, its outputs its last dimension.
                return Layer(
                    resolution: resolution, isConverter: false, multiplyAdds: Double(parameter.count),
                    outputs: Double(shape.last ?? 1), patches: 0)
            }
            let perPixel = Double(parameter.count)
            return Layer(
                resolution: resolution, isConverter: isConverter, multiplyAdds: perPixel * pixels,
                outputs: Double(shape[0]) * pixels, patches: Double(shape[1] * shape[2] * shape[3]) * pixels)
        }
    }

    /// Parameters G and D use up to `resolution`.
    public func activeParameters(at resolution: Int) -> (generator: Int, discriminator: Int) {
        activeCounts[resolution] ?? (generatorParameters, discriminatorParameters)
    }

    /// The layers in use at `resolution`: every block up to it, and only its own RGB converters.
    private func layers(at resolution: Int) -> [Layer] {
        layers.filter { $0.resolution <= resolution && (!$0.isConverter || $0.resolution == resolution) }
    }

    /// Multiply-adds of one forward pass of G and D over one image.
    public func multiplyAdds(at resolution: Int) -> Double { layers(at: resolution).map(\.multiplyAdds).reduce(0, +) }

    /// Output values of every layer of G and D for one image.
    public func activations(at resolution: Int) -> Double { layers(at: resolution).map(\.outputs).reduce(0, +) }

    /// The largest im2col patch matrix for one image.
    public func largestPatches(at resolution: Int) -> Double { layers(at: resolution).map(\.patches).max() ?? 0 }
}

/// Memory one rank needs in a phase, in bytes, by what holds it.
public struct MemoryEstimate: Sendable {
    /// G, D and the averaged G, each with its (zeroed, so resident) gradient buffer.
    public let weights: Double
    /// Adam's two moments for G and D.
    public let optimizer: Double
    /// The reducer's sums: a 64-bit word per active value in deterministic mode (their carries, zero but
    /// where a sum wrapped, stay unmapped), a float otherwise;
    /// and a gradient buffer per pass run side by side.
    public let reducer: Double
    /// Tensors a micro-batch's D and G steps keep for their backward passes (the gradient penalty's
    /// double backward included).
    public let activations: Double
    /// The run-time scaled copies of the active weights and their gradients that each forward pass
    /// keeps, the largest convolution's patch matrix, and the process itself (runtime, MPI, BLAS).
    public let workspace: Double

    public var total: Double { weights + optimizer + reducer + activations + workspace }

    /// Values kept per layer output and image over a step, and copies of each active weight kept in
    /// the step's graphs: fitted to `bench train`'s peak resident set at the `cpu` widths (32x32) and at
    /// the `paper` widths (4x4, 8x8, 16x16), which they match within 5%; higher resolutions are
    /// extrapolated.
    static let keptPerOutput = 2.0
    static let weightCopies = 3.5
    /// Resident memory of the process before any network: runtime, OpenMPI and OpenBLAS.
    static let processBytes = 48.0 * 1_048_576
}

extension TrainingConfig {
    /// What one rank of `threads` threads holds in the phase `layout`; a rank's memory is its largest
    /// phase's. Micro-batches run side by side each keep their activations and scratch, and a gradient
    /// buffer of their own.
    public func memoryPerRank(_ layout: PhaseLayout, threads: Int = 1, costs: NetworkCosts) -> MemoryEstimate {
        let g = Double(costs.generatorParameters), d = Double(costs.discriminatorParameters)
        let active = costs.activeParameters(at: layout.resolution)
        let busy = layout.mostPerRank > 0
        let passes = layout.passesAtOnce(threads: threads)
        let images = Double(busy ? layout.microbatchSize * passes : 0)
        let passGradients = passes > 1 ? 4 * Double(passes) * max(g, d) : 0
        return MemoryEstimate(
            weights: 4 * (4 * g + 2 * d), optimizer: 8 * (g + d),
            reducer: Double(max(active.generator, active.discriminator)) * (recipe.deterministic ? 8 : 4)
                + passGradients,
            activations: 4 * images * MemoryEstimate.keptPerOutput * costs.activations(at: layout.resolution),
            workspace: 4 * images * costs.largestPatches(at: layout.resolution) + MemoryEstimate.processBytes
                + 4 * MemoryEstimate.weightCopies * Double(active.generator + active.discriminator))
    }

    /// The log's one note about ranks without work: which phases leave how many of `ranks` idle.
    public func idleRanksNote(ranks: Int) throws -> String? {
        let idle = try phaseLayouts(ranks: ranks).filter { $0.idleRanks > 0 }
        guard !idle.isEmpty else { return nil }
        let phases = idle.map { "\($0.resolution)x\($0.resolution): \($0.idleRanks)" }.joined(separator: ", ")
        return "note: phases with fewer micro-batches than ranks leave ranks idle (they contribute zero to the "
            + "gradient sums and wait), by resolution: \(phases)"
    }
}
