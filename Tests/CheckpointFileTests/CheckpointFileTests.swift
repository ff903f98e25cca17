import SafeIO
import TestSupport
import XCTest
@testable import CheckpointFile

/// The container's framing checks: every damaged file is one error line naming the file and the problem.
final class CheckpointFileTests: XCTestCase {
    private let path = "bad.ckpt"
    private let sample = CheckpointFile(sections: [
        .init(name: "state", payload: Array(#"{"step":3}"#.utf8)),
        .init(name: "g", floats: [1, -2.5, 3e-8]),
        .init(name: "empty", payload: []),
    ])

    private func assertRejected(
        _ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertOneLineError(
            try CheckpointFile.parse(bytes, path: path), path: path, mentioning: expected, file: file, line: line)
    }

    /// Offset of the first byte after section `index`'s name-length field, counted from the serialized sample.
    private func sectionStart(_ index: Int, in bytes: [UInt8]) -> Int {
        var offset = 16
        for _ in 0..<index {
            let nameLength = Int(bytes[offset..<(offset + 4)].littleEndianInteger() as UInt32)
            let payloadAt = offset + 4 + nameLength
            let payloadLength = Int(bytes[payloadAt..<(payloadAt + 8)].littleEndianInteger() as UInt64)
            offset = payloadAt + 8 + payloadLength + 4
        }
        return offset
    }

    func testRoundTripKeepsSectionsInOrder() throws {
        let parsed = try CheckpointFile.parse(sample.serialized(), path: path)
        XCTAssertEqual(parsed.sections.map(\.name), ["state", "g", "empty"])
        XCTAssertEqual(try parsed["g"]?.floats(path: path), [1, -2.5, 3e-8])
        XCTAssertEqual(Array(parsed["state"]!.payload), Array(#"{"step":3}"#.utf8))
        XCTAssertEqual(parsed["empty"]?.payload.count, 0)
    }

    /// The layout is the documented one, byte for byte: magic, version, count, then each framed section.
    func testLayoutIsTheDocumentedOne() {
        let bytes = CheckpointFile(sections: [.init(name: "ab", payload: [7])]).serialized()
        var crc = CRC32()
        crc.update(Array("ab".utf8) + [7])
        var expected = Array("PROGANCK".utf8) + [1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0] + Array("ab".utf8)
        expected += [1, 0, 0, 0, 0, 0, 0, 0, 7]
        expected.appendLittleEndian(crc.value)
        XCTAssertEqual(bytes, expected)
    }

    func testTruncationAnywhereIsReported() {
        let bytes = sample.serialized()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try CheckpointFile.parse(Array(bytes[0..<length]), path: path), "length \(length)") {
                XCTAssertTrue("\($0)".hasPrefix("\(path): "), "\($0)")
            }
        }
        assertRejected(Array(bytes.prefix(20)), "truncated while reading the section name")
        let gStart = sectionStart(1, in: bytes)
        let fivePayloadBytes = bytes.prefix(gStart + 4 + 1 + 8 + 5)
        assertRejected(Array(fivePayloadBytes), "truncated: section 'g' needs 12 bytes, 5 remain")
    }

    func testPayloadLengthBeyondTheFileIsReportedBeforeAllocating() {
        var bytes = sample.serialized()
        let lengthAt = sectionStart(1, in: bytes) + 4 + 1
        for i in 0..<8 { bytes[lengthAt + i] = 0xFF }
        assertRejected(bytes, "section 'g' needs 18446744073709551615 bytes")
    }

    func testBadSectionChecksum() {
        var bytes = sample.serialized()
        let payloadAt = sectionStart(1, in: bytes) + 4 + 1 + 8
        bytes[payloadAt] ^= 0x01
        assertRejected(bytes, "section 'g' fails its checksum")
        var badChecksum = sample.serialized()
        badChecksum[sectionStart(2, in: badChecksum) - 1] ^= 0x80
        assertRejected(badChecksum, "section 'g' fails its checksum")
    }

    func testHeaderProblemsAreNamed() {
        var bytes = sample.serialized()
        assertRejected(Array("PROGANCX".utf8) + bytes.dropFirst(8), "bad magic number")
        bytes[8] = 2
        assertRejected(bytes, "checkpoint format version 2; this build reads version 1")
        for count: UInt32 in [0, 65, .max] {
            var counted = sample.serialized()
            for i in 0..<4 { counted[12 + i] = UInt8(truncatingIfNeeded: count >> (8 * UInt32(i))) }
            assertRejected(counted, "implausible section count \(count)")
        }
        var longName = sample.serialized()
        longName[16] = 65
        assertRejected(longName, "section name of 65 bytes")
        assertRejected(sample.serialized() + [0, 0], "2 unexpected bytes after the last section")
    }

    func testDuplicateSectionsAndRaggedFloatsAreRejected() throws {
        let twice = CheckpointFile(sections: [.init(name: "g", payload: []), .init(name: "g", payload: [])])
        assertRejected(twice.serialized(), "section 'g' appears twice")
        let raggedFile = CheckpointFile(sections: [.init(name: "g", payload: [1, 2, 3])])
        let ragged = try CheckpointFile.parse(raggedFile.serialized(), path: path)
        XCTAssertThrowsError(try ragged["g"]!.floats(path: path)) {
            XCTAssertEqual("\($0)", "\(path): section 'g' is not a whole number of floats")
        }
    }

    func testReadNamesMissingEmptyAndDirectoryPaths() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.file("missing.ckpt")
        XCTAssertThrowsError(try CheckpointFile.read(path: missing)) {
            XCTAssertEqual("\($0)", "\(missing): no such file")
        }
        let empty = try directory.write([], to: "empty.ckpt")
        XCTAssertThrowsError(try CheckpointFile.read(path: empty)) {
            XCTAssertEqual("\($0)", "\(empty): file is empty")
        }
        XCTAssertThrowsError(try CheckpointFile.read(path: directory.path)) {
            XCTAssertEqual("\($0)", "\(directory.path): is a directory, not a checkpoint")
        }
        try sample.write(to: directory.file("good.ckpt"))
        XCTAssertEqual(try CheckpointFile.read(path: directory.file("good.ckpt")).serialized(), sample.serialized())
    }
}
