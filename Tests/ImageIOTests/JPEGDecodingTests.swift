import CTurboJPEG
import ImageFixtures
import ImageIO
import TestSupport
import XCTest

/// JPEGs made here by cjpeg from the emoji set decode to exactly djpeg's pixels.
final class JPEGDecodingTests: TemporaryDirectoryTestCase {
    /// RGBA (with transparency, composited onto white), palette and gray+alpha emoji, 64x64 and 75x75,
    /// so the MCU grid is both whole and cut at the right and bottom edges.
    private func emoji() throws -> [RGBImage] {
        try ["smile", "black_circle", "clock1", "shipit", "squirrel"].map {
            try RGBImage.read(path: "\(JPEGTools.emojiFolder)/\($0).png")
        }
    }

    private func assertMatchesDjpeg(_ options: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        for (index, image) in try emoji().enumerated() {
            let jpeg = try JPEGTools.compress(image, options: options)
            let path = try directory.write(jpeg, to: "\(index).jpg")
            let decoded = try RGBImage.read(path: path)
            let reference = try JPEGTools.reference(jpeg)
            XCTAssertEqual(decoded.width, image.width, "\(options) image \(index)", file: file, line: line)
            XCTAssertEqual(decoded, reference, "\(options) image \(index)", file: file, line: line)
        }
    }

    func testBaselineMatchesDjpeg() throws { try assertMatchesDjpeg([]) }

    func testProgressiveMatchesDjpeg() throws { try assertMatchesDjpeg(["-progressive"]) }

    func testGrayscaleMatchesDjpeg() throws { try assertMatchesDjpeg(["-grayscale"]) }

    func testFullChromaArithmeticAndRestartsMatchDjpeg() throws {
        try assertMatchesDjpeg(["-sample", "1x1", "-arithmetic", "-restart", "1", "-quality", "95"])
    }

    func testRGBColourSpaceMatchesDjpeg() throws { try assertMatchesDjpeg(["-rgb"]) }

    /// TurboJPEG writes CMYK input as an Adobe YCCK JPEG (cjpeg cannot make one); decoding goes through
    /// the CMYK-to-RGB conversion, which must be djpeg's to the last rounding.
    func testYCCKMatchesDjpeg() throws {
        for image in try emoji() {
            // A CMYK rendering with a varied K channel, in Adobe's inverted convention.
            let cmyk = (0..<image.width * image.height).flatMap { pixel -> [UInt8] in
                let rgb = image.pixels[3 * pixel..<3 * pixel + 3]
                let k = max(rgb.max()!, 40)
                return rgb.map { UInt8(min(255, Int($0) * 255 / Int(k))) } + [k]
            }
            let jpeg = try compressCMYK(cmyk, width: image.width, height: image.height)
            let decoded = try RGBImage.read(path: try directory.write(jpeg, to: "cmyk.jpg"))
            XCTAssertEqual(decoded, try JPEGTools.reference(jpeg))
            // Not a gray or garbled image: close to the colours it was made from.
            let error = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)
            XCTAssertLessThan(Double(error) / Double(image.pixels.count), 12)
        }
    }

    func testTruncatedJPEGIsSkippedWithItsReason() throws {
        let jpeg = try JPEGTools.compress(try emoji()[0])
        let path = try directory.write(Array(jpeg.prefix(jpeg.count / 2)), to: "truncated.jpg")
        XCTAssertThrowsError(try RGBImage.read(path: path)) { error in
            XCTAssertEqual(
                "\(error)", "\(path): truncated or corrupt JPEG data (Premature end of JPEG file)")
        }
    }

    /// The header pass of `prepare`: the size of a file whose pixels are cut off, the same refusal as
    /// decoding for a file that is no image.
    func testTheSizeComesFromTheHeaderAlone() throws {
        let image = try emoji()[0]
        let jpeg = try JPEGTools.compress(image)
        let truncated = Array(jpeg.prefix(jpeg.count / 2))
        let size = try RGBImage.size(of: truncated, displayPath: "t.jpg")
        XCTAssertEqual([size.width, size.height], [image.width, image.height])
        let png = try image.pngData()
        let pngSize = try RGBImage.size(of: Array(png.prefix(png.count / 2)), displayPath: "t.png")
        XCTAssertEqual([pngSize.width, pngSize.height], [image.width, image.height])
        XCTAssertThrowsError(try RGBImage.size(of: Array("not an image".utf8), displayPath: "x.jpg")) {
            XCTAssertEqual($0 as? ImageError, .unknownFormat(path: "x.jpg", reason: "bad signature"))
        }
    }

    func testCorruptHeaderIsReportedWithLibjpegsMessage() throws {
        var jpeg = try JPEGTools.compress(try emoji()[0])
        // The start-of-frame marker becomes an undefined one.
        let frame = (0..<jpeg.count - 1).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }!
        jpeg[frame + 1] = 0x02
        let path = try directory.write(jpeg, to: "corrupt.jpg")
        XCTAssertThrowsError(try RGBImage.read(path: path)) { error in
            guard case .corrupt(path, "JPEG", let message) = error as? ImageError else {
                return XCTFail("expected a corrupt JPEG, got \(error)")
            }
            XCTAssertFalse(message.isEmpty)
        }
    }

    private func compressCMYK(_ cmyk: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        let handle = tjInitCompress()
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = tjCompress2(
            handle, cmyk, Int32(width), 0, Int32(height), Int32(TJPF_CMYK.rawValue), &buffer, &size,
            Int32(TJSAMP_420.rawValue), 90, 0)
        defer { tjFree(buffer) }
        guard status == 0, let buffer else { throw JPEGTools.ToolFailure(message: "tjCompress2 failed") }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
