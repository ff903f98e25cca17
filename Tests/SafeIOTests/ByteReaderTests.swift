import XCTest
@testable import SafeIO

/// SafeIO's pieces shared by the file-format readers: bounds-checked reads and the checked element count.
final class ByteReaderTests: XCTestCase {
    func testReadsLittleEndianAndStopsAtTheEnd() throws {
        var reader = ByteReader(bytes: [0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB], path: "f.bin")
        XCTAssertEqual(try reader.read("word") as UInt32, 0x0403_0201)
        XCTAssertEqual(reader.remaining, 2)
        XCTAssertThrowsError(try reader.read("next word") as UInt32) {
            XCTAssertEqual("\($0)", "f.bin: truncated while reading the next word")
        }
        XCTAssertEqual(reader.offset, 4, "a failed read consumes nothing")
        XCTAssertEqual(Array(try reader.take(2, "tail")), [0xAA, 0xBB])
        XCTAssertThrowsError(try reader.take(-1, "negative")) { XCTAssertTrue("\($0)".hasPrefix("f.bin: truncated")) }
    }

    func testLengthPrefixedBytesCheckTheLengthAgainstWhatRemains() throws {
        var reader = ByteReader(bytes: [3, 0, 9, 8, 7, 200, 0, 1], path: "f.bin")
        XCTAssertEqual(Array(try reader.takeLengthPrefixed(UInt16.self, "blob")), [9, 8, 7])
        XCTAssertThrowsError(try reader.takeLengthPrefixed(UInt16.self, "the second blob")) {
            XCTAssertEqual("\($0)", "f.bin: truncated: the second blob needs 200 bytes, 1 remain")
        }
    }

    func testFloatsRoundTripThroughLittleEndianBytes() {
        let values: [Float] = [0, -1.5, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity]
        var bytes: [UInt8] = [0xFF]
        bytes.appendLittleEndian(values)
        XCTAssertEqual(Array(bytes[1..<5]), [0, 0, 0, 0])
        XCTAssertEqual(Array(bytes[5..<9]), [0x00, 0x00, 0xC0, 0xBF], "-1.5 is 0xBFC00000, stored low byte first")
        XCTAssertEqual(bytes[1...].littleEndianFloats(), values, "read back from an odd, unaligned offset")
    }

    func testElementCountRejectsOverflowAndNegativeDimensions() {
        XCTAssertEqual(checkedElementCount([2, 3, 4]), 24)
        XCTAssertEqual(checkedElementCount([2, 3], elementSize: 4), 24)
        XCTAssertEqual(checkedElementCount([]), 1)
        XCTAssertEqual(checkedElementCount([5, 0, -1]), nil, "a negative dimension after a zero is still rejected")
        XCTAssertNil(checkedElementCount([-3, 5]))
        XCTAssertNil(checkedElementCount([4_294_967_296, 4_294_967_296]))
        XCTAssertNil(checkedElementCount([Int.max], elementSize: 2))
        XCTAssertEqual(checkedElementCount([Int.max]), Int.max)
    }
}
