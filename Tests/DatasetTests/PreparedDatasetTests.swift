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
        // version, resolution, count, channels, levels, chunk size, classes, class-names length ("[]")
        XCTAssertEqual((0..<8).map(field), [2, 8, 2, 3, 2, 1 << 20, 0, 2])
        XCTAssertEqual(Array(validBytes[64..<66]), Array("[]".utf8))
        // The header checksum is CRC-32C of bytes 0..<56 and the class names.
        XCTAssertEqual(
            littleEndian(validBytes[56..<60]), CRC32.checksum(validBytes[0..<56] + validBytes[64..<66], .castagnoli))
        // Then three chunks (sources, 4x4, 8x8), each region on a page boundary: sources at 4096, the
        // 4x4 level (2 x 48 bytes) at 8192, the 8x8 level (2 x 192 bytes) at 12288.
        let table = (0..<3).map { littleEndian(validBytes[66 + 4 * $0..<70 + 4 * $0]) }
        XCTAssertEqual(validBytes.count, 12288 + 2 * 3 * 64)
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        let smallest = try dataset.image(0, resolution: 4)
        XCTAssertEqual(Array(validBytes[8192..<8196]), (0..<4).map { smallest.pixels[3 * $0] })
        XCTAssertEqual(table[1], CRC32.checksum(validBytes[8192..<8192 + 96], .castagnoli))
        XCTAssertEqual(table[2], CRC32.checksum(validBytes[12288...], .castagnoli))
        let sources = try dataset.sources()
        XCTAssertEqual(sources.map(\.path), ["0.png", "1.png"])
        let firstFile = try directory.read("images/0.png")
        XCTAssertEqual(sources[0].size, firstFile.count)
        XCTAssertEqual(sources[0].crc32c, String(format: "%08x", CRC32.checksum(firstFile, .castagnoli)))
        XCTAssertEqual(table[0], CRC32.checksum(validBytes[4096..<4096 + Int(field(8))], .castagnoli))
    }

    func testLoadingReturnsThePreparedPixels() throws {
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        XCTAssertEqual(dataset.count, 2)
        XCTAssertEqual(dataset.resolution, 8)
        XCTAssertEqual(dataset.levels, [4, 8])
        XCTAssertEqual(try (0..<2).map { try dataset.image($0, resolution: 8) }, images)
    }

    func testFillBatchScalesToMinusOneToOneAndMirrorsColumns() throws {
        let dataset = try PreparedDataset(path: directory.file("valid.pgds"))
        let indices = [1, 0, 0]
        let mirror = [false, true, false]
        let imageSize = 3 * 8 * 8
        var batch = [Float](repeating: .nan, count: indices.count * imageSize)
        try dataset.fillBatch(indices: indices, resolution: 8, mirror: mirror, into: &batch)

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
        try dataset.fillBatch(indices: [0, 1], resolution: 4, mirror: nil, into: &unflipped)
        try dataset.fillBatch(indices: [0, 1], resolution: 4, mirror: [false, false], into: &allFalse)
        XCTAssertEqual(unflipped, allFalse)
        XCTAssertFalse(unflipped.contains { $0.isNaN }, "fillBatch left values unwritten")
    }

    func testATruncatedFileIsRejected() throws {
        let path = try directory.write(Array(validBytes.dropLast(10)), to: "truncated.pgds")
        XCTAssertEqual(
            try loadError(path) as? DatasetError,
            .sizeMismatch(path: path, size: validBytes.count - 10, expected: validBytes.count))
    }

    func testTrailingBytesAreRejected() throws {
        let path = try directory.write(validBytes + [0, 0, 0, 0], to: "long.pgds")
        XCTAssertEqual(
            try loadError(path) as? DatasetError,
            .sizeMismatch(path: path, size: validBytes.count + 4, expected: validBytes.count))
    }

    func testAFileShorterThanTheHeaderIsRejected() throws {
        let path = try directory.write(Array(validBytes.prefix(20)), to: "stub.pgds")
        XCTAssertEqual(try loadError(path) as? DatasetError, .tooShort(path: path, size: 20))
    }

    func testAFlippedPixelIsReportedWhenItsChunkIsFirstReadNamingLevelAndImages() throws {
        var bytes = validBytes
        bytes[12288 + 200] ^= 0x10
        let path = try directory.write(bytes, to: "flipped.pgds")
        // Opening does not read the pixels; the other level and the source list are intact.
        let dataset = try PreparedDataset(path: path)
        XCTAssertNoThrow(try dataset.image(1, resolution: 4))
        XCTAssertNoThrow(try dataset.sources())
        var batch = [Float](repeating: .nan, count: 3 * 8 * 8)
        for _ in 0..<2 {
            XCTAssertThrowsError(try dataset.fillBatch(indices: [0], resolution: 8, mirror: nil, into: &batch)) {
                XCTAssertEqual(
                    $0 as? DatasetError, .corruptChunk(path: path, region: "level 8x8", chunk: 0, images: 0..<2))
                XCTAssert("\($0)".hasPrefix("\(path): checksum mismatch in level 8x8, images 0..<2 (chunk 0)"), "\($0)")
            }
        }
        XCTAssert(batch.allSatisfy(\.isNaN), "a damaged chunk's pixels reached the batch")
        let report = dataset.verify()
        XCTAssertEqual(report.damaged, [.corruptChunk(path: path, region: "level 8x8", chunk: 0, images: 0..<2)])
        XCTAssertEqual(report.chunks, 3)
        XCTAssertTrue(report.identityMatches)
    }

    func testAFlippedHeaderBitIsRefusedAtOpen() throws {
        var bytes = validBytes
        bytes[65] ^= 0x01
        let path = try directory.write(bytes, to: "header.pgds")
        XCTAssertEqual(
            try loadError(path) as? DatasetError, .corruptHeader(path: path, problem: "header checksum mismatch"))
    }

    /// A version 1 file of the same pixels, written here from the format's description: the file is
    /// checked whole at open, gives the same images and identity, and upgrades to a version 2 file.
    func testAVersionOneFileIsReadAndUpgradedKeepingItsIdentity() throws {
        var bytes = Array("PGDSET".utf8) + [0, 0]
        for field: UInt32 in [1, 8, 2, 3, 2] { bytes += withUnsafeBytes(of: field.littleEndian) { Array($0) } }
        for side in [4, 8] {
            for image in images { bytes += planes(image.areaResized(toSide: side)) }
        }
        bytes += withUnsafeBytes(of: CRC32.checksum(bytes).littleEndian) { Array($0) }
        let path = try directory.write(bytes, to: "v1.pgds")
        let legacy = try PreparedDataset(path: path)
        let current = try PreparedDataset(path: directory.file("valid.pgds"))
        XCTAssertEqual(legacy.formatVersion, 1)
        XCTAssertEqual(try (0..<2).map { try legacy.image($0, resolution: 8) }, images)
        XCTAssertEqual(try legacy.image(1, resolution: 4), try current.image(1, resolution: 4))
        XCTAssertEqual(legacy.identity, current.identity)
        XCTAssertEqual(try legacy.sources(), [])
        XCTAssertNil(try legacy.labels())
        XCTAssertEqual(legacy.verify().damaged, [])

        let upgraded = directory.file("upgraded.pgds")
        XCTAssertEqual(try legacy.upgrade(to: upgraded), try directory.read("upgraded.pgds").count)
        let converted = try PreparedDataset(path: upgraded)
        XCTAssertEqual(converted.formatVersion, 2)
        XCTAssertEqual(converted.identity, current.identity)
        XCTAssertEqual(try converted.image(0, resolution: 8), images[0])
        XCTAssertTrue(converted.verify().identityMatches)
        // The same dataset upgraded again, source list and all, is the same bytes.
        _ = try current.upgrade(to: directory.file("again.pgds"))
        XCTAssertEqual(try directory.read("again.pgds"), validBytes)

        bytes[40] ^= 0x04
        let damaged = try directory.write(bytes, to: "damaged-v1.pgds")
        XCTAssertEqual(try loadError(damaged) as? DatasetError, .legacyChecksumMismatch(path: damaged))
        let short = try directory.write(Array(bytes.dropLast(3)), to: "short-v1.pgds")
        XCTAssertEqual(
            try loadError(short) as? DatasetError,
            .sizeMismatch(path: short, size: bytes.count - 3, expected: bytes.count))
    }

    func testTheIdentityFollowsThePixelsAndNotTheSourceList() throws {
        let current = try PreparedDataset(path: directory.file("valid.pgds"))
        let other = try directory.imageFolder("other", [images[0], patternImage(width: 8, height: 8, seed: 5)])
        let otherReport = try XCTUnwrap(PreparedDataset.prepare(folder: other, output: directory.file("other.pgds")))
        XCTAssertNotEqual(otherReport.identity, current.identity)
        // The same pixels from files of other names: another source list, the same identity.
        let renamed = try directory.folder("renamed")
        for (index, image) in images.enumerated() { try image.write(path: "\(renamed)/image-\(index).png") }
        let renamedReport = try XCTUnwrap(PreparedDataset.prepare(folder: renamed, output: directory.file("r.pgds")))
        XCTAssertEqual(renamedReport.identity, current.identity)
        XCTAssertNotEqual(try directory.read("r.pgds"), validBytes)
    }

    private func planes(_ image: RGBImage) -> [UInt8] {
        (0..<3).flatMap { channel in (0..<image.width * image.height).map { image.pixels[3 * $0 + channel] } }
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
        let path = try directory.write(withField(0, setTo: 3), to: "version.pgds")
        let error = try loadError(path)
        XCTAssertEqual(error as? DatasetError, .unsupportedVersion(path: path, version: 3))
        XCTAssert("\(error)".contains("built by format version 3; this build reads versions 1 and 2"), "\(error)")
        XCTAssert("\(error)".hasSuffix("run progan prepare again"), "\(error)")
    }

    func testAHugeCountInATinyFileIsRejectedBeforeAnyUse() throws {
        let path = try directory.write(withField(2, setTo: .max), to: "huge.pgds")
        let error = try loadError(path)
        guard case .sizeMismatch(_, let size, let expected) = error as? DatasetError else {
            return XCTFail("expected .sizeMismatch, got \(error)")
        }
        XCTAssertEqual(size, validBytes.count)
        XCTAssertGreaterThan(expected, Int(UInt32.max) * 3 * (16 + 64))
    }

    func testImpossibleHeaderFieldsAreRejected() throws {
        let cases: [(field: Int, value: UInt32, problem: String)] = [
            (1, 48, "resolution 48 is not a power of two from 4 to 1024"),
            (1, 2048, "resolution 2048 is not a power of two from 4 to 1024"),
            (2, 0, "it holds no images"),
            (3, 4, "4 channels instead of 3"),
            (4, 3, "3 levels, but resolution 8 has 2"),
            (5, 1000, "chunk size 1000 is not a positive multiple of 4096"),
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

    /// Header field `index` counts the UInt32s after the magic: version, resolution, count, channels, levels,
    /// chunk size, classes, class-names length, then the low half of the sources length (8).
    private func field(_ index: Int) -> UInt32 {
        littleEndian(validBytes[8 + 4 * index..<12 + 4 * index])
    }

    private func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The valid file with one header field changed and the header checksum made to match again, so that
    /// the check of the field itself is what answers.
    private func withField(_ index: Int, setTo value: UInt32) -> [UInt8] {
        var bytes = validBytes
        for byte in 0..<4 {
            bytes[8 + 4 * index + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte))
        }
        let checksum = CRC32.checksum(bytes[0..<56] + bytes[64..<66], .castagnoli)
        for byte in 0..<4 { bytes[56 + byte] = UInt8(truncatingIfNeeded: checksum >> (8 * UInt32(byte))) }
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
