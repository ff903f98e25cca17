import Engine
import Foundation
import Model
import Safetensors
import Training

/// Networks of a checkpoint as safetensors, and back.
///
/// Tensors are named `<net>/<parameter>` (`g_ema/g.8x8.conv0.weight`, `d/d.4x4.conv.bias`), with `<net>`
/// one of the checkpoint's sections g, g_ema, d. Weights are stored raw, as trained: N(0, 1)-scale values
/// whose effective weight is the stored value times the layer's equalized-learning-rate constant
/// (gain / sqrt(fan_in)), listed per weight in the metadata `progan.weight_scales`; biases are used as
/// stored. Raw weights are what continues training exactly, and what pro_gan_pytorch stores as well.
///
/// Metadata (all strings, as the format requires):
///   progan.network        the NetworkConfig as JSON (arch, resolution, widths, latent, stddev group, and
///                         for a conditional run `conditioning`: kind, cond_weight, class_names)
///   progan.class_names    a conditional run's classes, JSON, in label order (G's one-hot input after the
///                         latent: the last columns of g.4x4.dense's weight are the class embedding)
///   progan.weights        "raw"
///   progan.weight_scales  JSON {parameter name: equalized-LR scale}
///   progan.resolution, progan.alpha   where training stood (what generate uses)
///   progan.images_shown, progan.step, progan.training_config   provenance (when from a checkpoint)
public enum ModelExchange {
    public static let networkKey = "progan.network"
    public static let resolutionKey = "progan.resolution"
    public static let alphaKey = "progan.alpha"

    /// A checkpoint section holding one network's weights.
    public enum Net: String, CaseIterable, Sendable {
        case g, gEMA = "g_ema", d

        public var section: CheckpointSection {
            switch self {
            case .g: .g
            case .gEMA: .gEMA
            case .d: .d
            }
        }

        func layout(_ config: NetworkConfig) -> ParameterLayout {
            self == .d ? Discriminator(config).layout : Generator(config).layout
        }
    }

    /// The checkpoint's `nets` as a safetensors file.
    public static func export(_ checkpoint: Checkpoint, path: String, nets: [Net]) throws -> SafetensorsFile {
        let state = checkpoint.state, network = state.config.network
        var tensors: [SafetensorsFile.Tensor] = []
        for net in nets {
            let layout = net.layout(network)
            guard let values = checkpoint.buffers[net.section], values.count == layout.count else {
                throw CheckpointError(
                    path: path, problem: "no '\(net.rawValue)' section of the size its configuration implies")
            }
            tensors += layout.parameters.map {
                .init(
                    name: "\(net.rawValue)/\($0.name)", shape: $0.shape,
                    values: Array(values[$0.offset..<($0.offset + $0.count)]))
            }
        }
        let point = schedulePoint(
            imagesShown: state.imagesShown, config: state.config.schedule, finalResolution: network.resolution)
        let metadata = [
            "format": "pt",
            networkKey: try json(network),
            "progan.weights": "raw",
            "progan.weight_scales": try json(weightScales(network)),
            resolutionKey: String(point.resolution),
            alphaKey: String(point.alpha),
            "progan.images_shown": String(state.imagesShown),
            "progan.step": String(state.step),
            "progan.training_config": String(decoding: try state.config.encoded(), as: UTF8.self),
        ]
        let classes = try network.conditioning.map { ["progan.class_names": try json($0.classNames)] } ?? [:]
        return SafetensorsFile(tensors: tensors, metadata: metadata.merging(classes) { first, _ in first })
    }

    /// Equalized-learning-rate scales of every weight of G and D.
    public static func weightScales(_ network: NetworkConfig) -> [String: Float] {
        Generator(network).weightScales.merging(Discriminator(network).weightScales) { first, _ in first }
    }

    /// A checkpoint that continues training from the networks in `file`: their configuration from the
    /// file's metadata, every other setting from `training`; fresh optimizer state; the schedule placed
    /// where the file says training stood (its final resolution, fully faded in, if it does not say).
    /// The file must hold D and G (g, g_ema or both; a missing one is a copy of the other).
    public static func checkpoint(
        from file: SafetensorsFile, path: String, training: TrainingConfig
    ) throws -> Checkpoint {
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(path: path, problem: problem) }
        let network = try networkConfig(of: file, path: path)
        var config = training
        config.network = network
        do { try config.validate() } catch { throw fail("its networks with these training settings: \(error)") }

        var buffers: [CheckpointSection: [Float]] = [:]
        var unused = Set(file.tensors.map(\.name))
        for net in Net.allCases {
            let layout = net.layout(network)
            guard layout.parameters.contains(where: { file["\(net.rawValue)/\($0.name)"] != nil }) else { continue }
            var values = [Float](repeating: 0, count: layout.count)
            for parameter in layout.parameters {
                let name = "\(net.rawValue)/\(parameter.name)"
                guard let tensor = file[name] else {
                    throw fail(
                        "no tensor '\(name)' (\(network.arch.rawValue) network at "
                            + "\(network.resolution)x\(network.resolution))"
                    )
                }
                guard tensor.shape == parameter.shape else {
                    throw fail("tensor '\(name)' has shape \(tensor.shape); the network needs \(parameter.shape)")
                }
                values.replaceSubrange(parameter.offset..<(parameter.offset + parameter.count), with: tensor.values)
                unused.remove(name)
            }
            buffers[net.section] = values
        }
        if let stray = unused.sorted().first {
            throw fail(
                "tensor '\(stray)' is not part of a \(network.arch.rawValue) network at "
                    + "\(network.resolution)x\(network.resolution)"
            )
        }
        guard let discriminator = buffers[.d] else {
            throw fail("holds no discriminator ('d/...' tensors): export with --net all to continue training")
        }
        guard let generator = buffers[.g] ?? buffers[.gEMA] else {
            throw fail("holds no generator ('g/...' or 'g_ema/...' tensors)")
        }

        var resolution = network.resolution, alpha: Float = 1
        if let text = file.metadata[resolutionKey] {
            guard let value = Int(text), network.resolutions.contains(value) else {
                throw fail("\(resolutionKey) '\(text)' is not a resolution of the network")
            }
            resolution = value
        }
        if let text = file.metadata[alphaKey] {
            guard let value = Float(text), value >= 0, value <= 1 else {
                throw fail("\(alphaKey) '\(text)' is not in [0, 1]")
            }
            alpha = value
        }
        return Checkpoint(
            startingFrom: config, generator: generator, averagedGenerator: buffers[.gEMA] ?? generator,
            discriminator: discriminator,
            imagesShown: imagesShown(atResolution: resolution, alpha: alpha, config: config.schedule))
    }

    /// The network configuration a file's metadata describes.
    public static func networkConfig(of file: SafetensorsFile, path: String) throws -> NetworkConfig {
        guard let text = file.metadata[networkKey] else {
            throw SafetensorsError(
                path: path, problem: "no '\(networkKey)' metadata: not written by progan export or progan-pgp-convert")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let network: NetworkConfig
        do {
            network = try decoder.decode(NetworkConfig.self, from: Data(text.utf8))
            try network.validate()
        } catch let error as ConfigError {
            throw SafetensorsError(path: path, problem: "\(networkKey): \(error)")
        } catch {
            throw SafetensorsError(path: path, problem: "\(networkKey) is not a network configuration")
        }
        return network
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension ModelExchange {
    /// What a reimplementation elsewhere is checked against: latents [N, latent] drawn from `seed`, the
    /// images [N, C, R, R] that the checkpoint's `generator` (g or g_ema) makes of them at `resolution`
    /// and fade-in `alpha`, and D's scores [N] for those images; from conditional networks also the
    /// one-hot classes [N, classes] of the images (sample i of class i mod classes).
    public static func referenceSamples(
        _ checkpoint: Checkpoint, path: String, generator net: Net, count: Int, seed: UInt64,
        resolution: Int, alpha: Float
    ) throws -> SafetensorsFile {
        precondition(net != .d, "reference samples come from a generator")
        let network = checkpoint.state.config.network
        let generator = Generator(network), discriminator = Discriminator(network)
        func store(_ section: Net, _ layout: ParameterLayout) throws -> ParameterStore {
            let store = ParameterStore(layout: layout)
            guard let values = checkpoint.buffers[section.section], values.count == store.count else {
                throw CheckpointError(
                    path: path, problem: "no '\(section.rawValue)' section of the size its configuration implies")
            }
            values.withUnsafeBufferPointer { store.values.pointer.update(from: $0.baseAddress!, count: values.count) }
            return store
        }
        let generatorWeights = try store(net, generator.layout),
            discriminatorWeights = try store(.d, discriminator.layout)
        var random = PhiloxRandom(seed: seed)
        let latents = random.normal(shape: [count, network.latent])
        let labels =
            network.labelSize > 0 ? oneHot((0..<count).map { $0 % network.labelSize }, classes: network.labelSize) : nil
        let (images, scores) = withoutGradients {
            let images = generator(
                latents, labels: labels, resolution: resolution, alpha: alpha, weights: Weights(generatorWeights))
            return (images, discriminator(images, labels: labels, alpha: alpha, weights: Weights(discriminatorWeights)))
        }
        let labelTensors: [SafetensorsFile.Tensor] =
            labels.map { [.init(name: "labels", shape: $0.shape, values: $0.scalars)] } ?? []
        return SafetensorsFile(
            tensors: [
                .init(name: "latents", shape: latents.shape, values: latents.scalars),
                .init(name: "images", shape: images.shape, values: images.scalars),
                .init(name: "scores", shape: [count], values: scores.scalars),
            ] + labelTensors,
            metadata: [
                resolutionKey: String(resolution), alphaKey: String(alpha), "progan.generator": net.rawValue,
                "progan.seed": String(seed), networkKey: try json(network),
            ])
    }
}
