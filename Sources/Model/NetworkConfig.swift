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
    /// Class-conditional networks; nil (left out of the file, so unconditional configurations and
    /// checkpoints keep their bytes) for unconditional ones.
    public var conditioning: Conditioning?

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
        case resolution, fmapBase, fmapDecay, fmapMax, latentSize, mbstdGroupSize, imageChannels, arch, conditioning
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
        conditioning = try container.decodeIfPresent(Conditioning.self, forKey: .conditioning)
    }

    /// Feature maps of a stage. A G block at resolution 2^r has nf(r - 1) maps.
    public func features(stage: Int) -> Int {
        let scaled = Double(fmapBase) / pow(2, Double(stage) * fmapDecay)
        // Written so that a width no validation has bounded (NaN, beyond Int) gives fmapMax, not a trap.
        guard scaled < Double(fmapMax) else { return max(1, fmapMax) }
        return max(1, Int(scaled))
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
        try requireResolution(resolution)
        try requireRange("network.fmap_base", fmapBase, 1...Self.widthLimit * 1024)
        try requireRange("network.fmap_decay", fmapDecay, 0...16)
        try requireRange("network.fmap_max", fmapMax, 1...Self.widthLimit)
        if let latentSize { try requireRange("network.latent_size", latentSize, 1...Self.widthLimit) }
        try requireRange("network.mbstd_group_size", mbstdGroupSize, 1...ConfigLimits.batch)
        try requireRange("network.image_channels", imageChannels, 1...4)
        try conditioning?.validate()
    }

    /// The most feature maps or latent values a layer may have (the paper's networks have 512).
    public static let widthLimit = 1 << 14
}

/// Upper bounds shared by settings of several types.
public enum ConfigLimits {
    /// The most images in one minibatch, micro-batch or stddev group.
    public static let batch = 1 << 16
    /// The most thousands of images any duration may span (a trillion images: far beyond any run, and
    /// far inside what an `Int` counts).
    public static let kimg = 1e9
}

/// Fails unless `value` lies in `range`; the error names `key`. A NaN lies in no range.
public func requireRange<Value: Comparable>(_ key: String, _ value: Value, _ range: ClosedRange<Value>) throws {
    guard range.contains(value) else {
        throw ConfigError(message: "\(key) \(value) is out of range (\(range.lowerBound) to \(range.upperBound))")
    }
}

/// Fails unless `resolution` is an image side a network can have: a power of two from 4 to 1024.
public func requireResolution(_ resolution: Int) throws {
    guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
        throw ConfigError(message: "resolution \(resolution) is not a power of two from 4 to 1024")
    }
}

/// Fails unless `value` is finite, greater than zero and at most `limit`; the error names `key`.
public func requirePositive<Value: BinaryFloatingPoint>(_ key: String, _ value: Value, atMost limit: Value) throws {
    guard value > 0, value <= limit else {
        throw ConfigError(message: "\(key) \(value) is out of range (greater than 0, at most \(limit))")
    }
}

/// A count of images given in thousands, as a whole number. The caller has range-checked `kimg`; a value
/// that slipped past (NaN, infinite, beyond `ConfigLimits.kimg`) is clamped rather than trapping.
public func wholeImages(kimg: Double) -> Int {
    guard kimg.isFinite else { return kimg > 0 ? Int(ConfigLimits.kimg * 1000) : 0 }
    return Int((min(max(kimg, 0), ConfigLimits.kimg) * 1000).rounded())
}

/// A configuration value that cannot work; the message names the setting and the problem.
public struct ConfigError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
