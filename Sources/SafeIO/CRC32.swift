/// A reflected 32-bit CRC computed incrementally: by default the CRC-32 of PNG, zlib and Ethernet (IEEE
/// 802.3, polynomial 0xEDB88320); `.castagnoli` gives CRC-32C (0x82F63B78), which TFRecord files use.
public struct CRC32 {
    public enum Polynomial {
        case ieee, castagnoli
    }

    // Kept inverted between updates, as the algorithm requires; `value` undoes it.
    private var invertedValue: UInt32 = 0xFFFF_FFFF
    private let table: [UInt32]

    public init(_ polynomial: Polynomial = .ieee) {
        table = polynomial == .ieee ? Self.ieeeTable : Self.castagnoliTable
    }

    public var value: UInt32 {
        ~invertedValue
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        // The contiguous path keeps the per-byte loop free of generic dispatch,
        // which matters for checkpoint-sized inputs.
        let handledContiguously: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            invertedValue = Self.advance(invertedValue, over: buffer, table: table)
        }
        if handledContiguously == nil {
            update(Array(bytes))
        }
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes, _ polynomial: Polynomial = .ieee) -> UInt32
    where Bytes.Element == UInt8 {
        var crc = CRC32(polynomial)
        crc.update(bytes)
        return crc.value
    }

    private static func advance(_ crc: UInt32, over bytes: UnsafeBufferPointer<UInt8>, table: [UInt32]) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            bytes.reduce(crc) { crc, byte in
                table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
    }

    private static let ieeeTable = makeTable(reflectedPolynomial: 0xEDB8_8320)
    private static let castagnoliTable = makeTable(reflectedPolynomial: 0x82F6_3B78)

    private static func makeTable(reflectedPolynomial: UInt32) -> [UInt32] {
        (0..<256).map { index in
            (0..<8).reduce(UInt32(index)) { crc, _ in
                crc & 1 == 1 ? reflectedPolynomial ^ (crc >> 1) : crc >> 1
            }
        }
    }
}
