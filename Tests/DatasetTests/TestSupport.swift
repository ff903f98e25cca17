import Foundation
import ImageIO

/// A fresh directory per test, removed with everything in it at the end.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "dataset-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String {
        path + "/" + name
    }

    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let filePath = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: filePath))
        return filePath
    }

    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }
}

/// A busy, irregular image, so a misplaced pixel, channel or row shows up in comparisons.
func patternImage(width: Int, height: Int, seed: Int = 0) -> RGBImage {
    RGBImage(
        width: width, height: height,
        pixels: (0..<width * height * 3).map { UInt8(truncatingIfNeeded: ($0 &* 37) ^ ($0 >> 5) &+ seed &* 101) })
}

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
