import Engine

/// ProGAN's generator (paper section 4 and table 2; official `G_paper`, or pro_gan_pytorch's with
/// `arch` pgp).
///
/// Parameters are declared block by block in growth order (4x4 first, each block followed by its
/// toRGB), so those in use up to any resolution are a prefix of the flat buffer.
public struct Generator: GrowingNetwork {
    public let config: NetworkConfig
    /// The 4x4 block: latent -> 4x4 maps -> conv3x3.
    let initialProjection: EqualizedLatentProjection
    let initialConv: EqualizedConv
    /// Blocks at 8x8 and up: upsample -> conv3x3 -> conv3x3; the converters are toRGB.
    public let growth: GrowthBlocks

    public init(_ config: NetworkConfig) {
        self.config = config
        var layout = ParameterLayout()
        let initialFeatures = config.features(stage: 1)
        let isPGP = config.arch == .pgp
        // Official: gain sqrt(2)/4 on the latent dense and toRGB with gain 1; pro_gan_pytorch keeps
        // sqrt(2) on every layer. A conditional G's dense also reads the one-hot class after the latent
        // (official `combo_in`): its last columns are the class embedding.
        initialProjection = EqualizedLatentProjection(
            &layout, "g.4x4.dense", input: config.latent + config.labelSize, maps: initialFeatures,
            gain: Float(2).squareRoot() / (isPGP ? 1 : 4), inputMajor: isPGP)
        initialConv = EqualizedConv(&layout, "g.4x4.conv", input: initialFeatures, output: initialFeatures, kernel: 3)
        let rgbGain: Float = isPGP ? Float(2).squareRoot() : 1
        let initialRGB = EqualizedConv(
            &layout, "g.4x4.torgb", input: initialFeatures, output: config.imageChannels, kernel: 1, gain: rgbGain)
        growth = GrowthBlocks(config, network: "g", after: layout, initialConverter: initialRGB) { layout, name, log2 in
            let input = config.features(stage: log2 - 2), output = config.features(stage: log2 - 1)
            return (
                (
                    EqualizedConv(&layout, "\(name).conv0", input: input, output: output, kernel: 3),
                    EqualizedConv(&layout, "\(name).conv1", input: output, output: output, kernel: 3)
                ),
                EqualizedConv(
                    &layout, "\(name).torgb", input: output, output: config.imageChannels, kernel: 1, gain: rgbGain)
            )
        }
    }

    public var equalizedLayers: [EqualizedLayer] { [initialProjection, initialConv] + growth.equalizedLayers }

    /// Images [N, C, R, R] from latents [N, latent] and, for a conditional G, one-hot classes
    /// [N, labelSize] (by default sample i has class i mod labelSize). During a fade-in (`alpha` < 1) the
    /// output blends the upsampled image of the previous resolution with the new block's (paper section 3,
    /// figure 2).
    public func callAsFunction(
        _ latents: Tensor, labels: Tensor? = nil, resolution: Int, alpha: Float, weights: Weights
    ) -> Tensor {
        precondition(
            latents.rank == 2 && latents.shape[1] == config.latent,
            "generator: latents \(latents.shape), expected [N, \(config.latent)]")
        let n = latents.shape[0]
        // Without labels, a conditional G makes the classes in turn: what tools that pick no class
        // (metrics, interpolation, time-lapses) get.
        let labels =
            labels
            ?? (config.labelSize > 0 ? oneHot((0..<n).map { $0 % config.labelSize }, classes: config.labelSize) : nil)
        precondition(
            (labels?.shape ?? [n, 0]) == [n, config.labelSize],
            "generator: labels \(labels?.shape ?? []), expected [N, \(config.labelSize)]")
        let stage = config.stage(of: resolution)
        // Pixelwise normalization of the latent (with the class, as the official code normalizes its
        // concatenation) and after every conv (paper section 4.2); pro_gan_pytorch leaves it out after
        // the 4x4 block's first layer.
        let input = labels.map { concatChannels([latents, $0]) } ?? latents
        var features = activate(initialProjection(pixelNorm(input), weights))
        if config.arch == .progan { features = pixelNorm(features) }
        features = pixelNorm(initialConv.activated(features, weights))
        let (blocks, toRGB) = (growth.blocks, growth.converters)
        for index in 0..<stage {
            let previous = features
            let (conv0, conv1) = blocks[index]
            features = pixelNorm(conv0.activated(upsample2x(features), weights))
            features = pixelNorm(conv1.activated(features, weights))
            if index == stage - 1 && alpha < 1 {
                return fadeIn(
                    upsampling: toRGB[index](previous, weights), into: toRGB[index + 1](features, weights), alpha: alpha
                )
            }
        }
        return toRGB[stage](features, weights)
    }
}
