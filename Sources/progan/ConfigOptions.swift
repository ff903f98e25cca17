import ArgumentParser
import Foundation
import Model
import Training

/// How a command picks its configuration: a named preset, then a JSON file laid over it, then flags.
struct ConfigOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Starting configuration: \(TrainingConfig.presetNames.joined(separator: ", ")).",
                               valueName: "name"))
    var preset = "cpu"

    @Option(help: ArgumentHelp("JSON file whose settings override the preset (snake_case keys, as in a run's config.json).",
                               valueName: "file"))
    var config: String?

    @Option(help: "Final resolution (a power of two from 4 to 1024).")
    var resolution: Int?

    @Option(help: ArgumentHelp("Network structure: progan (the official networks) or pgp (pro_gan_pytorch 3.4's, with its "
                               + "widths: channel base 16384, at most 512 maps, latent 512; a --config file may change them).",
                               valueName: "name"))
    var arch: Architecture?

    func validate() throws {
        guard TrainingConfig.preset(preset) != nil else {
            throw ValidationError("--preset: unknown preset '\(preset)'; choose one of \(TrainingConfig.presetNames.joined(separator: ", "))")
        }
    }

    /// The preset with `--arch`, the file and `--resolution` applied.
    func resolved() throws -> TrainingConfig {
        var result = TrainingConfig.preset(preset)!
        if let arch {
            result.network.arch = arch
            if arch == .pgp {
                let widths = NetworkConfig.proGANPyTorch(resolution: result.network.resolution)
                result.network.fmapBase = widths.fmapBase
                result.network.fmapDecay = widths.fmapDecay
                result.network.fmapMax = widths.fmapMax
                result.network.latentSize = widths.latentSize
            }
        }
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw ConfigError(message: "\(config): cannot be read")
            }
            result = try result.overlaid(withJSON: data, source: config)
        }
        if let resolution { result.network.resolution = resolution }
        return result
    }
}

extension Architecture: ExpressibleByArgument {}

/// Prints `error` as one line on standard error and exits non-zero, the way every command reports bad input.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    Foundation.exit(1)
}
