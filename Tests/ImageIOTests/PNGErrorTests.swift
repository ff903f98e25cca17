import ImageIO
import TestSupport
import XCTest

/// Every unreadable input must throw an error whose one-line message names the
/// file and says what is wrong with it.
final class PNGErrorTests: TemporaryDirectoryTestCase {
    func testTruncatedPNGIsReportedAsCorrupt() throws {
        let (width, height) = (32, 32)
        let png = TestPNG(
            width: width, height: height, bitDepth: 8, colorType: .rgb,
            samples: (0..<width * height * 3).map { $0 * 7 % 256 }
        ).encoded()
        let path = try directory.write(Array(png.prefix(png.count / 2)), to: "truncated.png")
        let error = try readError(path)
        guard case .corrupt = error else {
            return XCTFail("expected .corrupt, got \(error)")
        }
        XCTAssert(error.description.contains("truncated.png: truncated or corrupt PNG data"), error.description)
    }

    func testFormatIsTakenFromTheContentNotTheName() throws {
        let jpegStart: [UInt8] =
            [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        let path = try directory.write(jpegStart, to: "photo.png")
        let error = try readError(path)
        guard case .corrupt(_, "JPEG", _) = error else {
            return XCTFail("expected a corrupt JPEG, got \(error)")
        }
        XCTAssert(error.description.contains("photo.png: truncated or corrupt JPEG data ("), error.description)
    }

    func testTextFileIsNotAnImage() throws {
        let path = try directory.write(Array("just some notes, not an image\n".utf8), to: "notes.png")
        let error = try readError(path)
        XCTAssertEqual(error, .unknownFormat(path: path, reason: "bad signature"))
        XCTAssert(error.description.contains("notes.png"), error.description)
    }

    func testFileShorterThanTheSignatureIsNotAnImage() throws {
        let path = try directory.write([0x89, 0x50, 0x4E], to: "stub.png")
        let error = try readError(path)
        guard case .unknownFormat = error else {
            return XCTFail("expected .unknownFormat, got \(error)")
        }
        XCTAssert(error.description.contains("stub.png"), error.description)
    }

    func testZeroByteFileIsReportedAsEmpty() throws {
        let path = try directory.write([], to: "empty.png")
        let error = try readError(path)
        XCTAssertEqual(error, .emptyFile(path: path))
        XCTAssert(error.description.hasSuffix("empty.png: file is empty"), error.description)
    }

    func testMissingFileCannotBeOpened() throws {
        let path = directory.file("missing.png")
        let error = try readError(path)
        XCTAssertEqual(error, .cannotOpen(path: path, reason: "No such file or directory"))
        XCTAssert(error.description.contains("missing.png"), error.description)
    }

    func testDirectoryCannotBeRead() throws {
        let error = try readError(directory.path)
        XCTAssertEqual(error, .notARegularFile(path: directory.path, kind: "a directory"))
        XCTAssert(error.description.contains(directory.path), error.description)
    }

    func testOversizedDimensionsAreRefusedBeforeDecoding() throws {
        let png = TestPNG(
            width: 20_000, height: 1, bitDepth: 1, colorType: .gray,
            samples: [Int](repeating: 0, count: 20_000))
        let path = try directory.write(png.encoded(), to: "huge.png")
        let error = try readError(path)
        XCTAssertEqual(error, .tooLarge(path: path, width: 20_000, height: 1))
        XCTAssert(error.description.contains("huge.png: 20000x1 pixels exceeds the limit of 16384 pixels per side"))
    }

    func testBitFlipInImageDataIsReportedAsCorrupt() throws {
        var png = TestPNG(width: 2, height: 2, bitDepth: 8, colorType: .gray, samples: [1, 2, 3, 4]).encoded()
        let lastIDATDataByte = png.count - 12 - 4 - 1  // before the IEND chunk and the IDAT CRC
        png[lastIDATDataByte] ^= 0xFF
        let path = try directory.write(png, to: "bitflip.png")
        let error = try readError(path)
        guard case .corrupt = error else {
            return XCTFail("expected .corrupt, got \(error)")
        }
        XCTAssert(error.description.contains("bitflip.png"), error.description)
    }

    private func readError(_ path: String) throws -> ImageError {
        do {
            _ = try RGBImage.read(path: path)
        } catch {
            return error
        }
        throw DecodedWithoutError(path: path)
    }
}

/// Thrown from a test method, XCTest records it as a failure.
private struct DecodedWithoutError: Error, CustomStringConvertible {
    let path: String

    var description: String {
        "\(path) decoded without error"
    }
}
