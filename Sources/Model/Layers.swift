import Engine
import Foundation

/// Where a forward pass reads its weights: a parameter store, and whether gradients should flow into it.
/// G's step passes D as not trainable, so D's weight gradients are neither computed nor accumulated.
public struct Weights {
    public let store: ParameterStore
    public let trainable: Bool
    /// Where `backward` adds the gradients: the store's own buffer when nil, else a buffer of its layout
    /// (one micro-batch's, while others run at the same time).
    public let gradientsInto: UnsafeMutablePointer<Float>?

    public init(_ store: ParameterStore, trainable: Bool = true, gradientsInto: UnsafeMutablePointer<Float>? = nil) {
        self.store = store
        self.trainable = trainable
        self.gradientsInto = gradientsInto
    }

    func callAsFunction(_ parameter: Parameter) -> Tensor {
        store.tensor(parameter, trainable: trainable, gradientsInto: gradientsInto)
    }
}

/// He's constant for a layer with `fanIn` inputs: the equalized learning rate of paper section 4.1
/// stores N(0, 1) weights and multiplies them by this at run time, so Adam sees every weight at the
/// same scale.
func heScale(gain: Float, fanIn: Int) -> Float { gain / Float(fanIn).squareRoot() }

/// A stride-1 convolution with an equalized-learning-rate weight and a bias.
public struct EqualizedConv {
    public let weight: Parameter
    public let bias: Parameter
    public let padding: Int
    public let scale: Float

    public init(
        _ layout: inout ParameterLayout, _ name: String, input: Int, output: Int, kernel: Int,
        padding: Int? = nil, gain: Float = Float(2).squareRoot()
    ) {
        weight = layout.declare("\(name).weight", shape: [output, input, kernel, kernel], role: .weight)
        bias = layout.declare("\(name).bias", shape: [output], role: .bias)
        self.padding = padding ?? kernel / 2
        scale = heScale(gain: gain, fanIn: input * kernel * kernel)
    }

    public func callAsFunction(_ x: Tensor, _ weights: Weights) -> Tensor {
        addBias(conv2d(x, Engine.scale(weights(weight), scale), padding: padding), weights(bias))
    }

    /// The layer followed by the leaky ReLU, fused into one kernel call.
    public func activated(_ x: Tensor, _ weights: Weights) -> Tensor {
        conv2dBiasLeakyRelu(
            x, Engine.scale(weights(weight), scale), bias: weights(bias), padding: padding, slope: activationSlope)
    }
}

/// A fully connected layer [N, in] -> [N, out] with an equalized-learning-rate weight and, unless the
/// caller applies its own, a bias.
public struct EqualizedDense {
    public let weight: Parameter
    public let bias: Parameter?
    public let scale: Float

    public init(
        _ layout: inout ParameterLayout, _ name: String, input: Int, output: Int, gain: Float = Float(2).squareRoot(),
        withBias: Bool = true
    ) {
        weight = layout.declare("\(name).weight", shape: [output, input], role: .weight)
        bias = withBias ? layout.declare("\(name).bias", shape: [output], role: .bias) : nil
        scale = heScale(gain: gain, fanIn: input)
    }

    public func callAsFunction(_ x: Tensor, _ weights: Weights) -> Tensor {
        let product = matmul(x, Engine.scale(weights(weight), scale), transposeB: true)
        return bias.map { addBias(product, weights($0)) } ?? product
    }
}

/// G's first layer: a latent [N, in] to 4x4 feature maps [N, maps, 4, 4], with one bias per map. The
/// official code writes it as a dense layer (weight [maps·16, in], bias added after the reshape);
/// pro_gan_pytorch as a 4x4 transposed convolution of a 1x1 input, whose weight [in, maps, 4, 4] is the
/// same map stored transposed, with fan-in `in`.
public struct EqualizedLatentProjection {
    public let weight: Parameter
    public let bias: Parameter
    public let maps: Int
    public let scale: Float
    /// Whether the weight is stored [in, maps, 4, 4] (the transposed convolution's layout).
    public let inputMajor: Bool

    public init(_ layout: inout ParameterLayout, _ name: String, input: Int, maps: Int, gain: Float, inputMajor: Bool) {
        weight = layout.declare(
            "\(name).weight", shape: inputMajor ? [input, maps, 4, 4] : [maps * 16, input],
            role: .weight)
        bias = layout.declare("\(name).bias", shape: [maps], role: .bias)
        self.maps = maps
        self.inputMajor = inputMajor
        scale = heScale(gain: gain, fanIn: input)
    }

    public func callAsFunction(_ x: Tensor, _ weights: Weights) -> Tensor {
        let scaled = Engine.scale(weights(weight), scale)
        let product =
            inputMajor ? matmul(x, reshape(scaled, [x.shape[1], maps * 16])) : matmul(x, scaled, transposeB: true)
        return addBias(reshape(product, [x.shape[0], maps, 4, 4]), weights(bias))
    }
}

/// Initial values of equalized-learning-rate networks: weights N(0, 1), biases zero (paper section 4.1).
public func initializeParameters(_ store: ParameterStore, random: inout PhiloxRandom) {
    store.initialize { parameter, values in
        switch parameter.role {
        case .weight: random.fillNormal(values)
        case .bias: values.initialize(repeating: 0)
        }
    }
}

/// Leaky ReLU with the paper's slope, 0.2.
func activate(_ x: Tensor) -> Tensor { leakyRelu(x, slope: activationSlope) }
let activationSlope: Float = 0.2

/// A layer whose stored weight is multiplied by a constant at run time (equalized learning rate).
public protocol EqualizedLayer {
    var weight: Parameter { get }
    var scale: Float { get }
}

extension EqualizedConv: EqualizedLayer {}
extension EqualizedDense: EqualizedLayer {}
extension EqualizedLatentProjection: EqualizedLayer {}

/// One of the two networks a GAN step updates; the raw value is the letter messages name it by.
public enum Network: String, Sendable {
    case generator = "G"
    case discriminator = "D"
}

/// What G and D share: parameters declared block by block in growth order (4x4 first), so that those
/// in use up to any resolution are a prefix of the flat buffer.
public protocol GrowingNetwork {
    var config: NetworkConfig { get }
    var growth: GrowthBlocks { get }
    var equalizedLayers: [EqualizedLayer] { get }
}

extension GrowingNetwork {
    /// Where every parameter of the network lives in its flat buffer.
    public var layout: ParameterLayout { growth.layout }

    /// Number of leading parameters used at `resolution`.
    public func activeParameterCount(resolution: Int) -> Int { growth.prefixCounts[config.stage(of: resolution)] }

    /// The run-time scale of every weight, by parameter name: effective weight = stored weight x scale.
    public var weightScales: [String: Float] {
        Dictionary(uniqueKeysWithValues: equalizedLayers.map { ($0.weight.name, $0.scale) })
    }
}

/// A growing network's blocks from 8x8 up, each two 3x3 convs, and the RGB converter of every
/// resolution, declared after its 4x4 block, together with the finished layout.
public struct GrowthBlocks {
    let layout: ParameterLayout
    /// Parameters in use up to each resolution, index 0 at 4x4.
    let prefixCounts: [Int]
    /// Index 0 at 8x8.
    let blocks: [(EqualizedConv, EqualizedConv)]
    /// toRGB or fromRGB per resolution, index 0 at 4x4.
    let converters: [EqualizedConv]

    typealias Block = (block: (EqualizedConv, EqualizedConv), converter: EqualizedConv)

    /// Continues `layout`, which holds the 4x4 block ending with its RGB converter `initialConverter`,
    /// with the larger blocks in growth order, each followed by its converter: `declare` gets the layout,
    /// the block's name prefix such as "g.8x8", and log2 of its resolution.
    init(
        _ config: NetworkConfig, network: String, after layout: ParameterLayout, initialConverter: EqualizedConv,
        _ declare: (inout ParameterLayout, String, Int) -> Block
    ) {
        var layout = layout, prefixCounts = [layout.count]
        var blocks: [(EqualizedConv, EqualizedConv)] = [], converters = [initialConverter]
        for log2 in stride(from: 3, through: config.resolutionLog2, by: 1) {
            let declared = declare(&layout, "\(network).\(1 << log2)x\(1 << log2)", log2)
            blocks.append(declared.block)
            converters.append(declared.converter)
            prefixCounts.append(layout.count)
        }
        (self.layout, self.prefixCounts, self.blocks, self.converters) = (layout, prefixCounts, blocks, converters)
    }

    /// The equalized layers of the blocks, then the converters.
    var equalizedLayers: [EqualizedLayer] { blocks.flatMap { [$0.0, $0.1] as [EqualizedLayer] } + converters }
}
