@testable import Dataset
import ImageFixtures
import ImageIO
import SafeIO
import TestSupport
import XCTest

final class PreparedDatasetTests: TemporaryDirectoryTestCase {
    private let images = [
        patternImage(width: 8, height: 8, seed: 4),
        // Both extremes, to pin the ends of the [-1, 1] range.
        RGBImage(width: 8, height: 8, pixels: (0..<8 * 8 * 3).map { $0 % 2 == 0 ? 0 : 255 }),
    ]
    /// A valid two-image 8x8 dataset, the starting point of every corruption.
    private var validBytes: [UInt8] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        let folder = try directory.imageFolder("images", images)
        try PreparedDataset.prepare(folder: folder, output: directory.file("valid.pgds"))
        validBytes = try directory.read("valid.pgds")
    }

    func testTheHeaderAndLayoutMatchTheDocumentedFormat() throws {
        XCTAssertEqual(Array(validBytes[0..<8]), Array("PGDSET".utf8) + [0, 0])
        XCTAssertEqual((0..<5).map(field), [1, 8, 2, 3, 2])
        XCTAssertEqual(validBytes.count, 28 + 2 * 3 * (16 + 64) + 4)
        // The 4x4 level comes first: its first bytes are image 0's red plane.
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        let smallest = dataset.image(0, resolution: 4)
        XCTAssertEqual(Array(validBytes[28..<32]), (0..<4).map { smallest.pixels[3 * $0] })
        let storedChecksum = validBytes.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        XCTAssertEqual(storedChecksum, CRC32.checksum(validBytes.dropLast(4)))
    }

    func testLoadingReturnsThePreparedPixels() throws {
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        XCTAssertEqual(dataset.count, 2)
        XCTAssertEqual(dataset.resolution, 8)
        XCTAssertEqual(dataset.levels, [4, 8])
        XCTAssertEqual((0..<2).map { dataset.image($0, resolution: 8) }, images)
    }

    func testFillBatchScalesToMinusOneToOneAndMirrorsColumns() throws {
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        let indices = [1, 0, 0]
        let mirror = [false, true, false]
        let imageSize = 3 * 8 * 8
        var batch = [Float](repeating: .nan, count: indices.count * imageSize)
        dataset.fillBatch(indices: indices, resolution: 8, mirror: mirror, into: &batch)

        XCTAssert(batch.allSatisfy { (-1...1).contains($0) }, "values outside [-1, 1]")
        XCTAssertEqual(batch.min(), -1)
        XCTAssertEqual(batch.max(), 1)
        for (position, index) in indices.enumerated() {
            for channel in 0..<3 {
                for y in 0..<8 {
                    for x in 0..<8 {
                        let sourceX = mirror[position] ? 7 - x : x
                        let pixel = images[index].pixels[(y * 8 + sourceX) * 3 + channel]
                        let value = batch[position * imageSize + (channel * 8 + y) * 8 + x]
                        XCTAssertEqual(value, Float(pixel) / 127.5 - 1, "sample \(position) c\(channel) y\(y) x\(x)")
                    }
                }
            }
        }
    }

    func testFillBatchWithoutMirrorFlagsMatchesAllFalse() throws {
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        var unflipped = [Float](repeating: .nan, count: 2 * 3 * 4 * 4)
        var allFalse = unflipped
        dataset.fillBatch(indices: [0, 1], resolution: 4, mirror: nil, into: &unflipped)
        dataset.fillBatch(indices: [0, 1], resolution: 4, mirror: [false, false], into: &allFalse)
        XCTAssertEqual(unflipped, allFalse)
        XCTAssertFalse(unflipped.contains { $0.isNaN }, "fillBatch left values unwritten")
    }

    func testATruncatedFileIsRejected() throws {
        let path = try directory.write(Array(validBytes.dropLast(10)), to: "truncated.pgds")
        XCTAssertEqual(
            try loadError(path) as? DatasetError,
            .sizeMismatch(path: path, size: validBytes.count - 10, expected: validBytes.count, count: 2, resolution: 8))
    }

    func testTrailingBytesAreRejected() throws {
        let path = try directory.write(validBytes + [0, 0, 0, 0], to: "long.pgds")
        XCTAssertEqual(
            try loadError(path) as? DatasetError,
            .sizeMismatch(path: path, size: validBytes.count + 4, expected: validBytes.count, count: 2, resolution: 8))
    }

    func testAFileShorterThanTheHeaderIsRejected() throws {
        let path = try directory.write(Array(validBytes.prefix(20)), to: "stub.pgds")
        XCTAssertEqual(try loadError(path) as? DatasetError, .tooShort(path: path, size: 20))
    }

    func testAFlippedPixelByteFailsTheChecksum() throws {
        var bytes = validBytes
        bytes[100] ^= 0x10
        let path = try directory.write(bytes, to: "flipped.pgds")
        let error = try loadError(path)
        XCTAssertEqual(error as? DatasetError, .checksumMismatch(path: path))
        XCTAssertEqual("\(error)", "\(path): checksum mismatch: the file is corrupt")
    }

    func testAWrongMagicIsNotADataset() throws {
        var bytes = validBytes
        bytes[0] = UInt8(ascii: "X")
        let path = try directory.write(bytes, to: "magic.pgds")
        XCTAssertEqual(try loadError(path) as? DatasetError, .notADataset(path: path))
        let emptyPath = try directory.write([], to: "empty.pgds")
        XCTAssertEqual(try loadError(emptyPath) as? DatasetError, .notADataset(path: emptyPath))
    }

    func testAnotherFormatVersionAsksForARebuild() throws {
        let path = try directory.write(withField(0, setTo: 2), to: "version.pgds")
        let error = try loadError(path)
        XCTAssertEqual(error as? DatasetError, .unsupportedVersion(path: path, version: 2))
        XCTAssert("\(error)".contains("built by format version 2; this build reads version 1"), "\(error)")
        XCTAssert("\(error)".hasSuffix("run progan prepare again"), "\(error)")
    }

    func testAHugeCountInATinyFileIsRejectedBeforeAnyUse() throws {
        let path = try directory.write(withField(2, setTo: .max), to: "huge.pgds")
        let error = try loadError(path)
        guard case .sizeMismatch(_, let size, let expected, let count, _) = error as? DatasetError else {
            return XCTFail("expected .sizeMismatch, got \(error)")
        }
        XCTAssertEqual(size, validBytes.count)
        XCTAssertEqual(count, Int(UInt32.max))
        XCTAssertEqual(expected, 28 + Int(UInt32.max) * 3 * (16 + 64) + 4)
    }

    func testImpossibleHeaderFieldsAreRejected() throws {
        let cases: [(field: Int, value: UInt32, problem: String)] = [
            (1, 48, "resolution 48 is not a power of two from 4 to 1024"),
            (1, 2048, "resolution 2048 is not a power of two from 4 to 1024"),
            (2, 0, "it holds no images"),
            (3, 4, "4 channels instead of 3"),
            (4, 3, "3 levels, but resolution 8 has 2"),
        ]
        for (field, value, problem) in cases {
            let path = try directory.write(withField(field, setTo: value), to: "header\(field)-\(value).pgds")
            XCTAssertEqual(try loadError(path) as? DatasetError, .corruptHeader(path: path, problem: problem))
        }
    }

    func testMissingFilesAndDirectoriesAreRejected() throws {
        let missing = directory.file("missing.pgds")
        XCTAssertEqual("\(try loadError(missing))", "\(missing): cannot open: No such file or directory")
        XCTAssertEqual("\(try loadError(directory.path))", "\(directory.path): not a regular file")
    }

    /// Header field `index` counts the UInt32s after the magic: version, resolution, count, channels, levels.
    private func field(_ index: Int) -> UInt32 {
        validBytes[8 + 4 * index..<12 + 4 * index].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    private func withField(_ index: Int, setTo value: UInt32) -> [UInt8] {
        var bytes = validBytes
        for byte in 0..<4 {
            bytes[8 + 4 * index + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte))
        }
        return bytes
    }

    /// The error loading `path` throws, checked to be one line naming the file.
    private func loadError(_ path: String) throws -> Error {
        var thrown: Error?
        XCTAssertThrowsError(try PreparedDataset(path: path)) { thrown = $0 }
        let error = try XCTUnwrap(thrown)
        XCTAssert("\(error)".hasPrefix(path + ": "), "error does not start with the file name: \(error)")
        XCTAssertFalse("\(error)".contains("\n"), "error is not one line: \(error)")
        return error
    }
}
