/// The CRC-32 used by PNG, zlib and Ethernet (IEEE 802.3, reflected polynomial
/// 0xEDB88320), computed incrementally.
public struct CRC32 {
    // Kept inverted between updates, as the algorithm requires; `value` undoes it.
    private var invertedValue: UInt32 = 0xFFFF_FFFF

    public init() {}

    public var value: UInt32 {
        ~invertedValue
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        // The contiguous path keeps the per-byte loop free of generic dispatch,
        // which matters for checkpoint-sized inputs.
        let handledContiguously: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            invertedValue = Self.advance(invertedValue, over: buffer)
        }
        if handledContiguously == nil {
            update(Array(bytes))
        }
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    private static func advance(_ crc: UInt32, over bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        bytes.reduce(crc) { crc, byte in
            table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
    }

    private static let table: [UInt32] = (0..<256).map { index in
        (0..<8).reduce(UInt32(index)) { crc, _ in
            crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1
        }
    }
}
