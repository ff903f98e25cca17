import Engine

/// ProGAN's discriminator, the mirror image of the generator (official `D_paper`).
///
/// Parameters are declared in growth order (the 4x4 block and its fromRGB first), so those in use up
/// to any resolution are a prefix of the flat buffer.
public struct Discriminator: GrowingNetwork {
    public let config: NetworkConfig
    public let layout: ParameterLayout
    /// The 4x4 block: minibatch stddev -> conv3x3 -> dense -> dense to one score.
    let finalConv: EqualizedConv
    let finalDense: EqualizedDense
    let scoreDense: EqualizedDense
    /// Blocks at 8x8 and up (index 0 at 8x8): conv3x3 -> conv3x3 -> 2x2 average pool.
    let blocks: [(EqualizedConv, EqualizedConv)]
    /// fromRGB per resolution, index 0 at 4x4.
    let fromRGB: [EqualizedConv]
    public let prefixCounts: [Int]

    public init(_ config: NetworkConfig) {
        self.config = config
        var layout = ParameterLayout()
        var prefixCounts: [Int] = []
        let features = config.features(stage: 1)
        let statistics = config.mbstdGroupSize > 1 ? 1 : 0
        finalConv = EqualizedConv(&layout, "d.4x4.conv", input: features + statistics, output: features, kernel: 3)
        finalDense = EqualizedDense(&layout, "d.4x4.dense0", input: features * 16, output: config.features(stage: 0))
        scoreDense = EqualizedDense(&layout, "d.4x4.dense1", input: config.features(stage: 0), output: 1, gain: 1)
        let initialRGB = EqualizedConv(&layout, "d.4x4.fromrgb", input: config.imageChannels, output: features, kernel: 1)
        prefixCounts.append(layout.count)
        let grown = declareGrowthBlocks(&layout, config, network: "d", prefixCounts: &prefixCounts) { layout, name, log2 in
            let input = config.features(stage: log2 - 1), output = config.features(stage: log2 - 2)
            return ((EqualizedConv(&layout, "\(name).conv0", input: input, output: input, kernel: 3),
                     EqualizedConv(&layout, "\(name).conv1", input: input, output: output, kernel: 3)),
                    EqualizedConv(&layout, "\(name).fromrgb", input: config.imageChannels, output: input, kernel: 1))
        }
        blocks = grown.blocks
        fromRGB = [initialRGB] + grown.converters
        self.layout = layout
        self.prefixCounts = prefixCounts
    }


    /// Scores [N, 1] for images [N, C, R, R]. During a fade-in (`alpha` < 1) the input to the old
    /// blocks blends fromRGB of the downsampled image with the new block's output (paper figure 2).
    public func callAsFunction(_ images: Tensor, alpha: Float, weights: Weights) -> Tensor {
        let (n, _, size, width) = images.nchw
        precondition(size == width, "discriminator: images \(images.shape) are not square")
        let stage = config.stage(of: size)
        var features = activate(fromRGB[stage](images, weights))
        for index in stride(from: stage - 1, through: 0, by: -1) {
            let (conv0, conv1) = blocks[index]
            features = activate(conv0(features, weights))
            features = avgPool2x2(activate(conv1(features, weights)))
            if index == stage - 1 && alpha < 1 {
                let old = activate(fromRGB[index](avgPool2x2(images), weights))
                features = lerp(old, features, alpha)
            }
        }
        if config.mbstdGroupSize > 1 { features = minibatchStddev(features, groupSize: config.mbstdGroupSize) }
        features = activate(finalConv(features, weights))
        features = activate(finalDense(reshape(features, [n, config.features(stage: 1) * 16]), weights))
        return scoreDense(features, weights)
    }
}
