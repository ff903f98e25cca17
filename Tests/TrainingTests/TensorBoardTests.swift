import Foundation
import ImageIO
import SafeIO
@testable import Training
import XCTest

/// Reads back what TensorBoardWriter writes with an independent decoder: TFRecord framing with its
/// masked CRC-32C checks, then the protobuf fields by number.
final class TensorBoardTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tensorboard-tests-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testEventsCarryVersionRestartScalarsAndImages() throws {
        let grid = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 14) })
        let writer = try TensorBoardWriter(directory: directory, resumingAt: 400)
        try writer.write(
            step: 500, scalars: [("d_loss", -1.25), ("swd_16", 12.5), ("swd_mean", 9.75)],
            images: [("samples", grid)])
        let records = try readRecords(writer.path)
        XCTAssertEqual(records.count, 3)

        let version = fields(records[0])
        XCTAssertEqual(string(version[3]), "brain.Event:2")
        XCTAssertEqual(version[2]?.first?.number, 0)

        let start = fields(records[1])
        XCTAssertEqual(start[2]?.first?.number, 401, "START must purge only ticks after the resume point")
        XCTAssertEqual(fields(start[7]!.first!.bytes)[1]?.first?.number, 1, "session_log (field 7) status START")

        let event = fields(records[2])
        XCTAssertEqual(event[2]?.first?.number, 500)
        let wallTime = Double(bitPattern: event[1]!.first!.number)
        XCTAssertEqual(wallTime, Date().timeIntervalSince1970, accuracy: 60)
        let values = fields(event[5]!.first!.bytes)[1]!.map { fields($0.bytes) }
        var scalars: [String: Float] = [:]
        for value in values where value[2] != nil {
            scalars[string(value[1])!] = Float(bitPattern: UInt32(value[2]!.first!.number))
        }
        XCTAssertEqual(scalars, ["d_loss": -1.25, "swd_16": 12.5, "swd_mean": 9.75])
        let image = try XCTUnwrap(values.first { string($0[1]) == "samples" })
        let encoded = fields(image[4]!.first!.bytes)
        XCTAssertEqual(encoded[1]?.first?.number, 2)
        XCTAssertEqual(encoded[2]?.first?.number, 3)
        let png = directory + "/decoded.png"
        try Data(encoded[4]!.first!.bytes).write(to: URL(fileURLWithPath: png))
        XCTAssertEqual(try RGBImage.read(path: png), grid)
    }

    func testEachWriterStartsAFileOfItsOwn() throws {
        let first = try TensorBoardWriter(directory: directory, resumingAt: 0)
        let second = try TensorBoardWriter(directory: directory, resumingAt: 100)
        XCTAssertNotEqual(first.path, second.path)
        XCTAssert((first.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents."))
        XCTAssertEqual(try readRecords(second.path).count, 2)
    }

    func testFailureToCreateNamesTheFile() {
        let blocker = NSTemporaryDirectory() + "tensorboard-blocker-" + UUID().uuidString
        XCTAssert(FileManager.default.createFile(atPath: blocker, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: blocker) }
        XCTAssertThrowsError(try TensorBoardWriter(directory: blocker + "/tensorboard", resumingAt: 0)) { error in
            XCTAssert("\(error)".hasPrefix(blocker), "\(error)")
        }
    }

    // MARK: Decoding

    private func readRecords(_ path: String) throws -> [[UInt8]] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var records: [[UInt8]] = [], offset = 0
        func word<T: FixedWidthInteger>(_ type: T.Type, at position: Int) -> T {
            bytes[position..<position + MemoryLayout<T>.size].reversed().reduce(0) { $0 << 8 | T($1) }
        }
        while offset < bytes.count {
            let length = Int(word(UInt64.self, at: offset))
            XCTAssertEqual(
                word(UInt32.self, at: offset + 8), maskedCRC32C(Array(bytes[offset..<offset + 8])), "length checksum")
            let data = Array(bytes[offset + 12..<offset + 12 + length])
            XCTAssertEqual(word(UInt32.self, at: offset + 12 + length), maskedCRC32C(data), "data checksum")
            records.append(data)
            offset += 16 + length
        }
        XCTAssertEqual(offset, bytes.count, "trailing bytes")
        return records
    }

    private struct Field {
        var number: UInt64 = 0
        var bytes: [UInt8] = []
    }

    private func fields(_ message: [UInt8]) -> [Int: [Field]] {
        var result: [Int: [Field]] = [:], offset = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = message[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                shift += 7
                if byte < 0x80 { return value }
            }
        }
        func fixed(_ count: Int) -> UInt64 {
            defer { offset += count }
            return message[offset..<offset + count].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        while offset < message.count {
            let key = varint()
            var field = Field()
            switch key & 7 {
            case 0: field.number = varint()
            case 1: field.number = fixed(8)
            case 5: field.number = fixed(4)
            case 2:
                let length = Int(varint())
                field.bytes = Array(message[offset..<offset + length])
                offset += length
            default:
                XCTFail("unexpected wire type \(key & 7)")
                return result
            }
            result[Int(key >> 3), default: []].append(field)
        }
        return result
    }

    private func string(_ field: [Field]?) -> String? { field?.first.map { String(decoding: $0.bytes, as: UTF8.self) } }
}
