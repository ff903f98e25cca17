import SafeIO
import XCTest

final class CRC32Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(
            CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
    }

    func testIncrementalUpdatesMatchOneShot() {
        var crc = CRC32()
        crc.update(Array("1234".utf8))
        crc.update(Array("".utf8))
        crc.update(Array("56789".utf8))
        XCTAssertEqual(crc.value, 0xCBF4_3926)
    }

    func testSequencesWithoutContiguousStorage() {
        XCTAssertEqual(CRC32.checksum(AnySequence("123456789".utf8)), 0xCBF4_3926)
    }

    /// CRC-32C check value (RFC 3720, iSCSI) and the all-zero vector of its appendix B.4.
    func testCastagnoliKnownVectors() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8), .castagnoli), 0xE306_9283)
        XCTAssertEqual(CRC32.checksum([UInt8](repeating: 0, count: 32), .castagnoli), 0x8A91_36AA)
        var crc = CRC32(.castagnoli)
        crc.update(Array("1234".utf8))
        crc.update(AnySequence("56789".utf8))
        XCTAssertEqual(crc.value, 0xE306_9283)
    }
}
