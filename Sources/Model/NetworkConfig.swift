import Foundation

/// The size of a ProGAN generator/discriminator pair (official networks.py, `G_paper`/`D_paper`).
public struct NetworkConfig: Codable, Equatable, Sendable {
    /// Final output resolution, a power of two from 4 to 1024.
    public var resolution: Int
    /// Feature maps: nf(stage) = min(fmapBase / 2^(stage * fmapDecay), fmapMax).
    public var fmapBase: Int
    public var fmapDecay: Double
    public var fmapMax: Int
    /// Latent vector length; nil means nf(0), as in the official code.
    public var latentSize: Int?
    /// Minibatch standard deviation group size in D's last block (paper section 3); 1 disables the layer.
    public var mbstdGroupSize: Int
    /// Image channels (3: RGB).
    public var imageChannels: Int

    public init(resolution: Int, fmapBase: Int = 8192, fmapDecay: Double = 1, fmapMax: Int = 512,
                latentSize: Int? = nil, mbstdGroupSize: Int = 4, imageChannels: Int = 3) {
        self.resolution = resolution
        self.fmapBase = fmapBase
        self.fmapDecay = fmapDecay
        self.fmapMax = fmapMax
        self.latentSize = latentSize
        self.mbstdGroupSize = mbstdGroupSize
        self.imageChannels = imageChannels
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
        precondition(resolution >= 4 && resolution <= self.resolution && resolution & (resolution - 1) == 0,
                     "resolution \(resolution) is not a power of two from 4 to \(self.resolution)")
        return resolution.trailingZeroBitCount - 2
    }

    /// Checks every field; the error names the field and the problem.
    public func validate() throws {
        func fail(_ message: String) -> ConfigError { ConfigError(message: message) }
        guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
            throw fail("resolution \(resolution) is not a power of two from 4 to 1024")
        }
        guard fmapBase > 0, fmapMax > 0 else { throw fail("fmap_base \(fmapBase) and fmap_max \(fmapMax) must be positive") }
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
