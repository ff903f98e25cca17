import ImageFixtures
import ImageIO
import TestSupport
import XCTest

final class RoundTripTests: TemporaryDirectoryTestCase {
    func testWrittenImageReadsBackIdentically() throws {
        let image = patternImage(width: 7, height: 5, seed: 3)
        let path = directory.file("roundtrip.png")
        try image.write(path: path)
        XCTAssertEqual(try RGBImage.read(path: path), image)
    }

    func testInMemoryEncodingIsTheFileContentAndDecodesIdentically() throws {
        let image = patternImage(width: 9, height: 4, seed: 5)
        let png = try image.pngData()
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(try RGBImage.read(path: directory.write(png, to: "memory.png")), image)
        let path = directory.file("file.png")
        try image.write(path: path)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), png)
    }

    func testWritingReplacesAnExistingImageAndLeavesNoTemporaryFile() throws {
        let path = directory.file("sample.png")
        try patternImage(width: 4, height: 4, seed: 1).write(path: path)
        let replacement = patternImage(width: 3, height: 2, seed: 2)
        try replacement.write(path: path)
        XCTAssertEqual(try RGBImage.read(path: path), replacement)
        XCTAssertEqual(try directory.contents(), ["sample.png"])
    }

    func testWritingIntoAMissingDirectoryNamesTheFile() throws {
        let path = directory.file("no-such-dir/out.png")
        XCTAssertThrowsError(try patternImage(width: 2, height: 2, seed: 0).write(path: path)) { error in
            guard case .writeFailed = error as? ImageError else {
                return XCTFail("expected ImageError.writeFailed, got \(error)")
            }
            XCTAssert("\(error)".contains("no-such-dir/out.png"), "\(error)")
        }
    }
}
