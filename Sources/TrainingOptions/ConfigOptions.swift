import ArgumentParser
import Foundation
import Model
import Training

/// How a command picks its configuration: a named preset, the architecture's widths, then a JSON file
/// laid over it, then flags, applied from one table (`ConfigOverride`).
public struct ConfigOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Starting configuration: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).",
            valueName: "name"))
    public var preset = Preset.cpu

    @Option(
        help: ArgumentHelp(
            "JSON file whose settings override the preset (snake_case keys, as in a run's "
                + "config.json, which resumes that run).", valueName: "file"))
    public var config: String?

    @Option(help: ArgumentHelp("Final resolution (a power of two from 4 to 1024).", valueName: "n"))
    public var resolution: Int?

    @Option(
        help: ArgumentHelp(
            "Network structure: progan (the official networks) or pgp (pro_gan_pytorch 3.4's, "
                + "with its widths: channel base 16384, at most 512 maps, latent 512; a --config file "
                + "may change them).", valueName: "name"))
    public var arch: Architecture?

    public init() {}

    /// The preset with `--arch`, the file and then every override applied, `--resolution` first.
    public func resolved(_ overrides: [ConfigOverride] = []) throws -> TrainingConfig {
        var result = preset.config
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
        let resolution = ConfigOverride(flag: "--resolution", resolution) { $0.network.resolution = $1 }
        for override in [resolution].compactMap({ $0 }) + overrides { override.apply(&result) }
        return result
    }
}

/// One flag's change to a configuration, applied after the preset and the JSON file.
public struct ConfigOverride {
    public let flag: String
    let apply: (inout TrainingConfig) -> Void

    /// nil when the flag was not given.
    public init?<Value>(flag: String, _ value: Value?, _ set: @escaping (inout TrainingConfig, Value) -> Void) {
        guard let value else { return nil }
        self.flag = flag
        apply = { set(&$0, value) }
    }
}

extension Preset: ExpressibleByArgument {}
extension Architecture: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension ConditioningKind: ExpressibleByArgument {}
