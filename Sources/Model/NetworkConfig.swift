import Foundation

/// The layer structure of G and D.
public enum Architecture: String, Codable, CaseIterable, Sendable {
    /// The official networks (networks.py `G_paper`/`D_paper`): the latent goes through a dense layer
    /// to 4x4 maps, D ends in two dense layers, toRGB and the score have gain 1.
    case progan
    /// pro_gan_pytorch 3.4's networks (PyPI `pro-gan-pth`): a 4x4 transposed conv from the latent with
    /// pixel norm only after the block's second conv, D ending in conv3x3 -> conv4x4 -> conv1x1 with
    /// `latent` maps in between, every equalized layer with gain sqrt(2), and strided stddev groups.
    case pgp
}

/// The size and structure of a ProGAN generator/discriminator pair.
public struct NetworkConfig: Codable, Equatable, Sendable {
    /// Final output resolution, a power of two from 4 to 1024.
    public var resolution: Int
    /// Feature maps: nf(stage) = min(fmapBase / 2^(stage * fmapDecay), fmapMax).
    public var fmapBase: Int
    public var fmapDecay: Double
    public var fmapMax: Int
    /// Latent vector length; nil means nf(0), as in the official code.
    @WrittenAsNull public var latentSize: Int?
    /// Minibatch standard deviation group size in D's last block (paper section 3); 1 disables the layer.
    public var mbstdGroupSize: Int
    /// Image channels (3: RGB).
    public var imageChannels: Int
    public var arch: Architecture

    public init(
        resolution: Int, fmapBase: Int = 8192, fmapDecay: Double = 1, fmapMax: Int = 512,
        latentSize: Int? = nil, mbstdGroupSize: Int = 4, imageChannels: Int = 3, arch: Architecture = .progan
    ) {
        (self.resolution, self.fmapBase, self.fmapDecay, self.fmapMax) = (resolution, fmapBase, fmapDecay, fmapMax)
        (self.latentSize, self.mbstdGroupSize) = (latentSize, mbstdGroupSize)
        (self.imageChannels, self.arch) = (imageChannels, arch)
    }

    /// pro_gan_pytorch's own widths: nf(stage) = clip(16384 / 2^stage, 1, 512), latent 512 (its
    /// `Generator`/`Discriminator` defaults).
    public static func proGANPyTorch(resolution: Int, latentSize: Int = 512) -> NetworkConfig {
        NetworkConfig(resolution: resolution, fmapBase: 16384, fmapMax: 512, latentSize: latentSize, arch: .pgp)
    }

    private enum CodingKeys: String, CodingKey {
        case resolution, fmapBase, fmapDecay, fmapMax, latentSize, mbstdGroupSize, imageChannels, arch
    }

    /// Configurations and checkpoints written before `arch` existed are of the official architecture.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        resolution = try container.decode(Int.self, forKey: .resolution)
        fmapBase = try container.decode(Int.self, forKey: .fmapBase)
        fmapDecay = try container.decode(Double.self, forKey: .fmapDecay)
        fmapMax = try container.decode(Int.self, forKey: .fmapMax)
        _latentSize = try container.decode(WrittenAsNull<Int>.self, forKey: .latentSize)
        mbstdGroupSize = try container.decode(Int.self, forKey: .mbstdGroupSize)
        imageChannels = try container.decode(Int.self, forKey: .imageChannels)
        arch = try container.decodeIfPresent(Architecture.self, forKey: .arch) ?? .progan
    }

    /// Feature maps of a stage. A G block at resolution 2^r has nf(r - 1) maps.
    public func features(stage: Int) -> Int {
        max(1, min(Int(Double(fmapBase) / pow(2, Double(stage) * fmapDecay)), fmapMax))
    }

    public var latent: Int { latentSize ?? features(stage: 0) }

    /// log2 of the final resolution.
    public var resolutionLog2: Int { resolution.trailingZeroBitCount }

    /// Resolutions of the blocks, 4 up to `resolution`.
    public var resolutions: [Int] { (2...resolutionLog2).map { 1 << $0 } }

    /// Index of the block that works at `resolution` (0 for 4x4).
    public func stage(of resolution: Int) -> Int {
        precondition(
            resolution >= 4 && resolution <= self.resolution && resolution & (resolution - 1) == 0,
            "resolution \(resolution) is not a power of two from 4 to \(self.resolution)")
        return resolution.trailingZeroBitCount - 2
    }

    /// Checks every field; the error names the field and the problem.
    public func validate() throws {
        func fail(_ message: String) -> ConfigError { ConfigError(message: message) }
        guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
            throw fail("resolution \(resolution) is not a power of two from 4 to 1024")
        }
        guard fmapBase > 0, fmapMax > 0 else {
            throw fail("fmap_base \(fmapBase) and fmap_max \(fmapMax) must be positive")
        }
        guard fmapDecay >= 0 else { throw fail("fmap_decay \(fmapDecay) must not be negative") }
        if let latentSize, latentSize <= 0 { throw fail("latent_size \(latentSize) must be positive") }
        guard mbstdGroupSize >= 1 else { throw fail("mbstd_group_size \(mbstdGroupSize) must be at least 1") }
        guard imageChannels >= 1 else { throw fail("image_channels \(imageChannels) must be at least 1") }
    }
}

/// A configuration value that cannot work; the message names the setting and the problem.
public struct ConfigError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
