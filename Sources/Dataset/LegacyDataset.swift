import SafeIO

// Prepared dataset file, format version 1 (written until session 6), still read for training and for
// `prepare --upgrade`. Integers are little-endian UInt32.
//
//   offset  bytes  field
//        0      8  magic "PGDSET\0\0"
//        8      4  format version = 1
//       12      4  resolution R: a power of two from 4 to 1024
//       16      4  image count N > 0
//       20      4  channels = 3
//       24      4  levels L = log2(R) - 1
//       28         one block per level, 4x4 first and RxR last: N x 3 x r x r UInt8 in NCHW order
//   size-4      4  CRC-32 (IEEE, zlib's crc32) of every byte before it
//
// It has no chunks, labels or source list: the whole file is checked when it is opened, and its
// identity (DatasetIdentity) is computed then, the same number a version 2 file of the same pixels holds.

/// A version 1 file, checked whole.
struct LegacyDataset {
    static let version: UInt32 = 1
    static let headerSize = 28

    /// The numbers of the file as a version 2 layout of an unlabelled dataset, for its levels and count.
    let layout: DatasetLayout
    let levelOffsets: [Int: Int]
    let identity: UInt64

    static func isLegacy(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 12 && bytes.prefix(8).elementsEqual(DatasetLayout.magic)
            && UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) == version
    }

    init(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        func field(_ index: Int) -> Int {
            Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 + 4 * index, as: UInt32.self)))
        }
        guard bytes.count >= Self.headerSize + 4 else { throw DatasetError.tooShort(path: path, size: bytes.count) }
        let emptyList = try DatasetHeader.encodedClassNames([]).count
        layout = DatasetLayout(
            resolution: field(1), count: field(2), chunkSize: DatasetLayout.defaultChunkSize, classCount: 0,
            classNamesSize: emptyList, sourcesSize: emptyList)
        try DatasetHeader.check(layout, channels: field(3), levels: field(4), path: path)
        var offset = Self.headerSize
        var offsets: [Int: Int] = [:]
        for side in layout.levels {
            offsets[side] = offset
            offset += layout.size(of: .level(side))
        }
        guard bytes.count == offset + 4 else {
            throw DatasetError.sizeMismatch(path: path, size: bytes.count, expected: offset + 4)
        }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[..<offset])) == stored else {
            throw DatasetError.legacyChecksumMismatch(path: path)
        }
        levelOffsets = offsets
        identity = try DatasetIdentity.of(layout, classNames: []) { [layout] region in
            guard case .level(let side) = region, let start = offsets[side] else { return [] }
            return DatasetIdentity.pieceChecksums(
                of: UnsafeRawBufferPointer(rebasing: bytes[start..<start + layout.size(of: region)]))
        }
    }
}
