import ArgumentParser
import Foundation
import Interop
import Model
import Safetensors
import Training

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's networks as safetensors, or as a pro_gan_pytorch model.",
        discussion: """
            Weights are stored raw (as trained); the metadata holds the network configuration and each weight's \
            equalized-learning-rate scale (effective weight = stored x scale). Beside the export, \
            NAME.samples.safetensors holds latents from --seed, the images the generator makes of them at the \
            checkpoint's resolution and fade-in (or --resolution / --alpha), and D's scores for those images: \
            scripts/torch/check_export.py compares a PyTorch rebuild against them.

            --format pgp writes a pro_gan_pytorch saved model (generator, discriminator, shadow_generator) of a \
            --arch pgp run, through scripts/torch/pgp_convert.py.
            """)

    enum Format: String, ExpressibleByArgument { case safetensors, pgp }
    enum Selection: String, ExpressibleByArgument {
        case g, g_ema, d, all

        var nets: [ModelExchange.Net] {
            switch self {
            case .g: [.g]
            case .g_ema: [.gEMA]
            case .d: [.d]
            case .all: ModelExchange.Net.allCases
            }
        }
    }

    @Argument(help: ArgumentHelp("Checkpoint file.", valueName: "checkpoint")) var checkpoint: String
    @Option(help: ArgumentHelp("Output file.", valueName: "file")) var out: String
    @Option(help: "Network(s): g, g_ema (the averaged generator), d, or all (what `progan import` needs).") var net =
        Selection.g_ema
    @Option(help: "safetensors, or pgp (a pro_gan_pytorch model; always all networks).") var format = Format.safetensors
    @Option(help: ArgumentHelp("Reference images written beside the export (0: none).", valueName: "n")) var images = 16
    @Option(help: "Seed of the reference latents.") var seed: UInt64 = 0
    @Option(help: "Resolution of the reference images (default: where training stood).") var resolution: Int?
    @Option(help: "Fade-in weight of the reference images, 0 to 1 (default: where training stood).") var alpha: Float?

    func validate() throws {
        try checkOutputPath(out, "--out")
        guard images >= 0 else { throw ValidationError("--images must not be negative") }
        if let alpha {
            guard alpha >= 0, alpha <= 1 else { throw ValidationError("--alpha \(alpha) must be between 0 and 1") }
        }
    }

    func run() throws {
        do {
            let loaded = try Checkpoint.read(path: checkpoint)
            let network = loaded.state.config.network
            if let resolution, !network.resolutions.contains(resolution) {
                let resolutions = network.resolutions.map(String.init).joined(separator: ", ")
                throw ConfigError(
                    message: "--resolution \(resolution) is not one of the network's (\(resolutions))"
                )
            }
            let nets = format == .pgp ? ModelExchange.Net.allCases : net.nets
            let file = try ModelExchange.export(loaded, path: checkpoint, nets: nets)
            switch format {
            case .safetensors:
                try file.write(to: out)
            case .pgp:
                guard network.arch == .pgp else {
                    throw ConfigError(
                        message: "\(checkpoint): --format pgp needs networks of --arch pgp; "
                            + "these are \(network.arch.rawValue)"
                    )
                }
                try withTemporaryPath(".safetensors") { temporary in
                    try file.write(to: temporary)
                    try PGPConverter.run(["to-pgp", temporary, out], about: checkpoint)
                }
            }
            print(
                "wrote \(out): \(nets.map(\.rawValue).joined(separator: ", ")) "
                    + "of a \(network.arch.rawValue) network at "
                    + "\(network.resolution)x\(network.resolution), \(file.tensors.count) tensors, raw weights")
            guard images > 0 else { return }
            let point = schedulePoint(
                imagesShown: loaded.state.imagesShown, config: loaded.state.config.schedule,
                finalResolution: network.resolution)
            let generator: ModelExchange.Net = net == .g ? .g : .gEMA
            let reference = try ModelExchange.referenceSamples(
                loaded, path: checkpoint, generator: generator,
                count: images, seed: seed,
                resolution: resolution ?? point.resolution, alpha: alpha ?? point.alpha)
            let samplesPath = Self.samplesPath(for: out)
            try reference.write(to: samplesPath)
            let side = reference.metadata[ModelExchange.resolutionKey]!
            print(
                "wrote \(samplesPath): \(images) latents, \(generator.rawValue)'s images at \(side)x\(side) "
                    + "(alpha \(reference.metadata[ModelExchange.alphaKey]!)) and D's scores")
        } catch { fail(error) }
    }

    /// model.safetensors -> model.samples.safetensors (any extension is replaced).
    static func samplesPath(for out: String) -> String {
        let url = URL(fileURLWithPath: out)
        let stem = url.pathExtension.isEmpty ? out : String(out.dropLast(url.pathExtension.count + 1))
        return stem + ".samples.safetensors"
    }
}
