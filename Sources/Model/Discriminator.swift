import Engine

/// ProGAN's discriminator, the mirror image of the generator (official `D_paper`, or pro_gan_pytorch's
/// with `arch` pgp).
///
/// Parameters are declared in growth order (the 4x4 block and its fromRGB first), so those in use up
/// to any resolution are a prefix of the flat buffer.
public struct Discriminator: GrowingNetwork {
    public let config: NetworkConfig
    /// The 4x4 block: minibatch stddev -> conv3x3 -> `head`.
    let finalConv: EqualizedConv
    let head: Head
    /// A projection D's class embedding, one row per class, applied as a dense layer from D's last
    /// features to one projection per class (gain 1, like the score); nil otherwise.
    let embedding: EqualizedDense?
    /// Blocks at 8x8 and up: conv3x3 -> conv3x3 -> 2x2 average pool; the converters are fromRGB.
    public let growth: GrowthBlocks

    /// From the 4x4 block's conv to one score per image: the official code's two dense layers (nf(0)
    /// features, the score with gain 1), or pro_gan_pytorch's conv4x4 (valid, `latent` maps) and conv1x1,
    /// the same maps written as convolutions.
    enum Head {
        case dense(EqualizedDense, score: EqualizedDense)
        case convolutional(EqualizedConv, score: EqualizedConv)
    }

    public init(_ config: NetworkConfig) {
        self.config = config
        var layout = ParameterLayout()
        let features = config.features(stage: 1)
        let statistics = config.appendsStddevMap ? 1 : 0
        finalConv = EqualizedConv(&layout, "d.4x4.conv", input: features + statistics, output: features, kernel: 3)
        let outputs = config.discriminatorOutputs, headFeatures = config.headFeatures
        switch config.arch {
        case .progan:
            head = .dense(
                EqualizedDense(&layout, "d.4x4.dense0", input: features * 16, output: headFeatures),
                score: EqualizedDense(&layout, "d.4x4.dense1", input: headFeatures, output: outputs, gain: 1))
        case .pgp:
            head = .convolutional(
                EqualizedConv(&layout, "d.4x4.conv4x4", input: features, output: headFeatures, kernel: 4, padding: 0),
                score: EqualizedConv(&layout, "d.4x4.conv1x1", input: headFeatures, output: outputs, kernel: 1))
        }
        // Without classes yet (a configuration not yet given its dataset's) there is nothing to embed.
        embedding =
            config.conditioning?.kind == .projection && config.labelSize > 0
            ? EqualizedDense(
                &layout, "d.4x4.embedding", input: headFeatures, output: config.labelSize, gain: 1, withBias: false)
            : nil
        let initialRGB = EqualizedConv(
            &layout, "d.4x4.fromrgb", input: config.imageChannels, output: features, kernel: 1)
        growth = GrowthBlocks(config, network: "d", after: layout, initialConverter: initialRGB) { layout, name, log2 in
            let input = config.features(stage: log2 - 1), output = config.features(stage: log2 - 2)
            return (
                (
                    EqualizedConv(&layout, "\(name).conv0", input: input, output: input, kernel: 3),
                    EqualizedConv(&layout, "\(name).conv1", input: input, output: output, kernel: 3)
                ),
                EqualizedConv(&layout, "\(name).fromrgb", input: config.imageChannels, output: input, kernel: 1)
            )
        }
    }

    public var equalizedLayers: [EqualizedLayer] {
        let headLayers: [EqualizedLayer]
        switch head {
        case let .dense(dense, score): headLayers = [dense, score]
        case let .convolutional(conv, score): headLayers = [conv, score]
        }
        return [finalConv] + headLayers + (embedding.map { [$0] } ?? []) + growth.equalizedLayers
    }

    /// Scores [N, 1] for images [N, C, R, R] (of classes `labels`, one-hot [N, labelSize], for a
    /// conditional D; a projection D without them scores without the class term).
    public func callAsFunction(_ images: Tensor, labels: Tensor? = nil, alpha: Float, weights: Weights) -> Tensor {
        outputs(images, labels: labels, alpha: alpha, weights: weights).scores
    }

    /// Scores [N, 1] and, for an AC-GAN D, class logits [N, labelSize]. During a fade-in (`alpha` < 1)
    /// the input to the old blocks blends fromRGB of the downsampled image with the new block's output
    /// (paper figure 2).
    public func outputs(
        _ images: Tensor, labels: Tensor? = nil, alpha: Float, weights: Weights
    ) -> (scores: Tensor, classLogits: Tensor?) {
        let (n, _, size, width) = images.nchw
        precondition(
            labels == nil || labels!.shape == [n, config.labelSize],
            "discriminator: labels \(labels?.shape ?? []), expected [N, \(config.labelSize)]")
        precondition(size == width, "discriminator: images \(images.shape) are not square")
        let stage = config.stage(of: size)
        let (blocks, fromRGB) = (growth.blocks, growth.converters)
        var features = fromRGB[stage].activated(images, weights)
        for index in stride(from: stage - 1, through: 0, by: -1) {
            let (conv0, conv1) = blocks[index]
            features = conv0.activated(features, weights)
            features = avgPool2x2(conv1.activated(features, weights))
            if index == stage - 1 && alpha < 1 {
                let old = fromRGB[index].activated(avgPool2x2(images), weights)
                features = lerp(old, features, alpha)
            }
        }
        if config.appendsStddevMap {
            // Both take the whole batch as one group when it is smaller than the group size (official
            // networks.py: group_size = min(group_size, N)), so a micro-batch of 2 still trains.
            let group = min(config.mbstdGroupSize, n)
            features = minibatchStddev(
                features, groupSize: group, grouping: config.arch == .pgp ? .strided : .consecutive)
        }
        features = finalConv.activated(features, weights)
        let last: Tensor, output: Tensor
        switch head {
        case let .dense(dense, score):
            last = activate(dense(reshape(features, [n, config.features(stage: 1) * 16]), weights))
            output = score(last, weights)
        case let .convolutional(conv, score):
            last = reshape(conv.activated(features, weights), [n, config.headFeatures])
            output = reshape(
                score(reshape(last, [n, config.headFeatures, 1, 1]), weights), [n, config.discriminatorOutputs])
        }
        if let embedding, let labels {
            // Miyato & Koyama's y·Vφ(x): every class's projection, the image's own picked by its one-hot.
            let projection = reshape(sumPerSample(mul(embedding(last, weights), labels)), [n, 1])
            return (add(output, projection), nil)
        }
        guard output.shape[1] > 1 else { return (output, nil) }
        return (sliceChannels(output, from: 0, count: 1), sliceChannels(output, from: 1, count: output.shape[1] - 1))
    }
}

extension NetworkConfig {
    /// Whether D's 4x4 block appends the minibatch-stddev map: pro_gan_pytorch's always does (a group of
    /// one gives a constant map); the official one unless the group size is 1.
    var appendsStddevMap: Bool { arch == .pgp || mbstdGroupSize > 1 }

    /// Features of D's last hidden layer (φ(x), which the score and a projection read): nf(0) in the
    /// official head, `latent` maps in pro_gan_pytorch's.
    var headFeatures: Int { arch == .pgp ? latent : features(stage: 0) }

    /// The score, and an AC-GAN D's class logits after it (official `1 + label_size` outputs).
    var discriminatorOutputs: Int { 1 + (conditioning?.kind == .acgan ? labelSize : 0) }
}
