import ImageIO

/// The mean of each `factor` x `factor` block, rounded half up: written
/// independently of the resampler it checks.
func boxAverage(_ image: RGBImage, factor: Int) -> RGBImage {
    let side = image.width / factor
    let pixels = (0..<side * side * 3).map { position -> UInt8 in
        let (pixel, channel) = position.quotientAndRemainder(dividingBy: 3)
        let (y, x) = pixel.quotientAndRemainder(dividingBy: side)
        var sum = 0
        for sourceY in y * factor..<(y + 1) * factor {
            for sourceX in x * factor..<(x + 1) * factor {
                sum += Int(image.pixels[(sourceY * image.width + sourceX) * 3 + channel])
            }
        }
        let count = factor * factor
        return UInt8((sum + count / 2) / count)
    }
    return RGBImage(width: side, height: side, pixels: pixels)
}
