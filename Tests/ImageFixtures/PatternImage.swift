import ImageIO

/// A busy, irregular image, so a misplaced pixel, channel or row shows up in comparisons.
public func patternImage(width: Int, height: Int, seed: Int = 0) -> RGBImage {
    RGBImage(
        width: width, height: height,
        pixels: (0..<width * height * 3).map { UInt8(truncatingIfNeeded: ($0 &* 37) ^ ($0 >> 5) &+ seed &* 101) })
}
