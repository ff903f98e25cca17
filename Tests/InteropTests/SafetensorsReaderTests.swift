import Foundation
import TestSupport
import XCTest
@testable import Safetensors

/// The reader's bounds checks: every malformed file is one error line naming the file and the problem.
final class SafetensorsReaderTests: XCTestCase {
    let path = "bad.safetensors"

    private let sample = SafetensorsFile(
        tensors: [
            .init(name: "a", shape: [2, 3], values: (0..<6).map(Float.init)),
            .init(name: "b.bias", shape: [4], values: [1.5, -2, 0.25, 1e-20]),
        ],
        metadata: ["progan.network": #"{"arch":"pgp"}"#, "note": "quote \" and backslash \\ and \u{1}"])

    /// A file with `header` (JSON text) and `data` bytes, its header length field computed or given.
    private func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + headerBytes + data
    }

    private func assertRejected(
        _ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertOneLineError(
            try SafetensorsFile.parse(bytes, path: path), path: path, mentioning: expected, file: file, line: line)
    }

    func testRoundTripKeepsNamesShapesValuesOrderAndMetadata() throws {
        let bytes = sample.serialized()
        XCTAssertEqual(try SafetensorsFile.parse(bytes, path: path), sample)
        // The data starts 8-byte aligned, after a header padded with spaces.
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        XCTAssertEqual((8 + headerLength) % 8, 0)
        XCTAssertEqual(bytes.count, 8 + headerLength + 10 * 4)
    }

    func testFileShorterThanTheLengthField() {
        assertRejected([1, 2, 3], "too short for the 8-byte header length")
        assertRejected([], "too short")
    }

    func testHeaderLengthPastTheEndOfTheFile() {
        assertRejected(file(header: "{}", declaredLength: 3), "runs past the end of the file")
    }

    func testHugeHeaderLength() {
        assertRejected(file(header: "{}", declaredLength: UInt64.max), "exceeds the limit")
        assertRejected(file(header: "{}", declaredLength: 100_000_001), "exceeds the limit")
    }

    func testTruncatedData() {
        let bytes = sample.serialized()
        assertRejected(Array(bytes.dropLast(4)), "lie outside")
    }

    func testHeaderThatIsNotJSON() {
        assertRejected(file(header: "[1, 2]"), "not a JSON object")
        assertRejected(file(header: "{\"a\": "), "not valid JSON")
        assertRejected(
            file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}}"), "not valid JSON")
    }

    func testHeaderThatIsNotUTF8() {
        var bytes = file(header: "{\"a\": 1}")
        bytes[10] = 0xFF
        assertRejected(bytes, "not valid UTF-8")
    }

    func testMalformedEntries() {
        assertRejected(file(header: #"{"a": {"dtype": "F32", "shape": [1]}}"#), "no 'data_offsets'")
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": "x", "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
            "malformed header entry")
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
            "malformed header entry")
        assertRejected(file(header: #"{"__metadata__": {"k": 1}}"#), "malformed header entry")
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}"#, data: [0, 0, 0, 0]),
            "has 3 numbers")
    }

    func testWrongAndUnknownDtypes() {
        assertRejected(
            file(header: #"{"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
            "tensor 'a' is F16; progan reads F32 tensors only")
        assertRejected(
            file(header: #"{"a": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
            "unknown dtype 'Q7'")
    }

    func testShapeThatDoesNotMatchTheByteLength() {
        assertRejected(
            file(
                header: #"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#,
                data: Array(repeating: 0, count: 8)),
            "shape [3] of F32 does not match its 8 data bytes")
        // A product that overflows is a mismatch, not a trap.
        assertRejected(
            file(
                header: #"{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}"#,
                data: Array(repeating: 0, count: 8)), "does not match")
        assertRejected(
            file(
                header: #"{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}"#,
                data: Array(repeating: 0, count: 8)),
            "does not match")
    }

    func testOffsetsOutOfRangeOverlappingOrLeavingGaps() {
        let eight = [UInt8](repeating: 0, count: 8)
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#, data: eight), "lie outside")
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}"#, data: eight), "lie outside"
        )
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}"#, data: eight), "lie outside"
        )
        assertRejected(
            file(
                header:
                    #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "#
                    + #""b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#,
                data: eight), "overlap")
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, data: eight),
            "data bytes 0..<4 belong to no tensor")
        assertRejected(
            file(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: eight),
            "4 data bytes after the last tensor")
    }

    func testReadNamesMissingEmptyAndDirectoryPaths() throws {
        let directory = try TemporaryDirectory()
        XCTAssertThrowsError(try SafetensorsFile.read(path: directory.file("missing.safetensors"))) {
            XCTAssertTrue("\($0)".hasSuffix("missing.safetensors: no such file"))
        }
        let empty = try directory.write([], to: "empty.safetensors")
        XCTAssertThrowsError(try SafetensorsFile.read(path: empty)) {
            XCTAssertTrue("\($0)".hasSuffix("file is empty"))
        }
        XCTAssertThrowsError(try SafetensorsFile.read(path: directory.path)) {
            XCTAssertTrue("\($0)".contains("is a directory"))
        }
        try sample.write(to: directory.file("good.safetensors"))
        XCTAssertEqual(try SafetensorsFile.read(path: directory.file("good.safetensors")), sample)
    }
}
