import ImageIO
import TestSupport
import XCTest

/// Decodes hand-built PNGs of every color type and bit depth and compares the
/// result with RGB bytes worked out here from the PNG specification.
final class PNGDecodingTests: TemporaryDirectoryTestCase {
    func testGray1BitMapsToBlackAndWhite() throws {
        // Width 5 leaves three padding bits at the end of each row.
        let samples = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0]
        try assertDecodes(
            TestPNG(width: 5, height: 2, bitDepth: 1, colorType: .gray, samples: samples),
            to: gray(samples.map { $0 * 255 }))
    }

    func testGray2BitScalesByEightyFive() throws {
        let samples = [0, 1, 2, 3, 2, 1]
        try assertDecodes(
            TestPNG(width: 3, height: 2, bitDepth: 2, colorType: .gray, samples: samples),
            to: gray(samples.map { $0 * 85 }))
    }

    func testGray4BitScalesBySeventeen() throws {
        let samples = [0, 7, 15, 9, 3, 12]
        try assertDecodes(
            TestPNG(width: 3, height: 2, bitDepth: 4, colorType: .gray, samples: samples),
            to: gray(samples.map { $0 * 17 }))
    }

    func testGray8BitIsCopied() throws {
        let samples = [0, 17, 128, 255]
        try assertDecodes(
            TestPNG(width: 2, height: 2, bitDepth: 8, colorType: .gray, samples: samples),
            to: gray(samples))
    }

    func testGray16BitIsRoundedToEightBitsWithoutGammaChange() throws {
        // A linear interpretation would turn 0x8080 into 188, not 128.
        let samples = [0, 0x1234, 0x8080, 0xFFFF]
        try assertDecodes(
            TestPNG(width: 4, height: 1, bitDepth: 16, colorType: .gray, samples: samples),
            to: gray(samples.map(roundedTo8Bits)))
    }

    func testGray8BitTransparencyKeyBecomesWhite() throws {
        let samples = [10, 77, 200]
        try assertDecodes(
            TestPNG(
                width: 3, height: 1, bitDepth: 8, colorType: .gray, samples: samples,
                transparency: [0, 77]),
            to: gray([10, 255, 200]))
    }

    func testGrayAlphaIsCompositedOntoWhite() throws {
        let pixels = [(100, 255), (100, 0), (100, 128), (0, 64)]
        try assertDecodes(
            TestPNG(
                width: 4, height: 1, bitDepth: 8, colorType: .grayAlpha,
                samples: pixels.flatMap { [$0.0, $0.1] }),
            to: gray(pixels.map { overWhite($0.0, alpha: $0.1) }), tolerance: 1)
    }

    func testPaletteImagesAtEveryBitDepth() throws {
        for bitDepth in [1, 2, 4, 8] {
            let (png, palette, indices) = paletteImage(bitDepth: bitDepth)
            try assertDecodes(
                png, to: indices.flatMap { palette[$0].map(Int.init) }, "\(bitDepth)-bit palette")
        }
    }

    func testPaletteTransparencyAtEveryBitDepth() throws {
        // Shorter than the palette on purpose: entries without alpha are opaque.
        let alphas = [0, 128, 200]
        for bitDepth in [1, 2, 4, 8] {
            var (png, palette, indices) = paletteImage(bitDepth: bitDepth)
            png.transparency = alphas.prefix(palette.count).map(UInt8.init)
            let expected = indices.flatMap { index in
                let alpha = index < alphas.count ? alphas[index] : 255
                return palette[index].map { overWhite(Int($0), alpha: alpha) }
            }
            try assertDecodes(png, to: expected, tolerance: 1, "\(bitDepth)-bit palette with tRNS")
        }
    }

    func testRGB8BitTransparencyKeyBecomesWhite() throws {
        let samples = [1, 2, 3, 40, 50, 60, 7, 8, 9]
        try assertDecodes(
            TestPNG(
                width: 3, height: 1, bitDepth: 8, colorType: .rgb, samples: samples,
                transparency: [0, 40, 0, 50, 0, 60]),
            to: [1, 2, 3, 255, 255, 255, 7, 8, 9])
    }

    func testRGB16BitIsRoundedToEightBitsWithoutGammaChange() throws {
        let samples = [0xFFFF, 0, 0x8080, 0x1234, 0xABCD, 0x00FF]
        try assertDecodes(
            TestPNG(width: 2, height: 1, bitDepth: 16, colorType: .rgb, samples: samples),
            to: samples.map(roundedTo8Bits))
    }

    func testRGBASemiTransparentPixelsAreCompositedOntoWhiteInSRGBSpace() throws {
        // 50% black must come out mid-gray (128), as a browser shows it, not the
        // 186 that blending in linear light gives.
        let pixels = [[200, 100, 50, 128], [0, 0, 0, 128], [10, 20, 30, 0], [255, 0, 0, 64], [1, 2, 3, 255]]
        try assertDecodes(
            TestPNG(width: 5, height: 1, bitDepth: 8, colorType: .rgba, samples: pixels.flatMap { $0 }),
            to: pixels.flatMap { pixel in pixel.prefix(3).map { overWhite($0, alpha: pixel[3]) } },
            tolerance: 1)
    }

    func testRGBA16BitIsCompositedOntoWhite() throws {
        let pixels = [
            [0xFFFF, 0x0000, 0x8080, 0xFFFF], [0x0000, 0x0000, 0x0000, 0x8080], [0x1234, 0x5678, 0x9ABC, 0],
        ]
        try assertDecodes(
            TestPNG(width: 3, height: 1, bitDepth: 16, colorType: .rgba, samples: pixels.flatMap { $0 }),
            to: pixels.flatMap { pixel in
                pixel.prefix(3).map { overWhite(roundedTo8Bits($0), alpha: roundedTo8Bits(pixel[3])) }
            },
            tolerance: 1)
    }

    // MARK: - Helpers

    private func assertDecodes(
        _ png: TestPNG, to expected: [Int], tolerance: Int = 0, _ context: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let path = try directory.write(png.encoded(), to: "decode.png")
        let image = try RGBImage.read(path: path)
        XCTAssertEqual(image.width, png.width, context, file: file, line: line)
        XCTAssertEqual(image.height, png.height, context, file: file, line: line)
        XCTAssertEqual(image.pixels.count, expected.count, context, file: file, line: line)
        let differences = zip(image.pixels, expected).map { abs(Int($0) - $1) }
        XCTAssert(
            differences.allSatisfy { $0 <= tolerance },
            "\(context): decoded \(image.pixels), expected \(expected) within ±\(tolerance)",
            file: file, line: line)
    }

    /// A palette with an entry for every index of `bitDepth`, and an odd-sized
    /// image (so rows need padding) that uses a spread of those entries.
    private func paletteImage(bitDepth: Int) -> (png: TestPNG, palette: [[UInt8]], indices: [Int]) {
        let entryCount = 1 << bitDepth
        let palette = (0..<entryCount).map { (index: Int) -> [UInt8] in
            let red = index * 37 % 256
            let green = 255 - index
            let blue = index * 3 % 256
            return [UInt8(red), UInt8(green), UInt8(blue)]
        }
        let (width, height) = (7, 3)
        let indices = (0..<width * height).map { ($0 * 5 + $0 / width) % entryCount }
        let png = TestPNG(
            width: width, height: height, bitDepth: bitDepth, colorType: .palette, samples: indices,
            palette: palette)
        return (png, palette, indices)
    }
}

private func gray(_ levels: [Int]) -> [Int] {
    levels.flatMap { [$0, $0, $0] }
}

private func roundedTo8Bits(_ sample16: Int) -> Int {
    Int((Double(sample16) * 255 / 65535).rounded())
}

/// The color a browser shows for an sRGB value at `alpha` over white.
private func overWhite(_ color: Int, alpha: Int) -> Int {
    let coverage = Double(alpha) / 255
    return Int((Double(color) * coverage + 255 * (1 - coverage)).rounded())
}
