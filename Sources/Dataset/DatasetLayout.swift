import CRC32CShim
import SafeIO

// Prepared dataset file, format version 2. Integers are little-endian.
//
//   offset  bytes  field
//        0      8  magic "PGDSET\0\0"
//        8      4  format version = 2
//       12      4  resolution R: a power of two from 4 to 1024
//       16      4  image count N > 0
//       20      4  channels = 3 (R, G, B)
//       24      4  levels L = log2(R) - 1 (4x4, 8x8, ..., RxR)
//       28      4  chunk size C in bytes (a multiple of 4096)
//       32      4  class count K (0: unlabelled)
//       36      4  class-names length: bytes of a JSON array of K strings
//       40      8  sources length S: bytes of a JSON array, one {path, size, crc32c} per source file
//       48      8  identity: what the file holds, not how (see DatasetIdentity)
//       56      4  CRC-32C of bytes 0..<56 and of the class names
//       60      4  zero
//       64         class names (JSON), then the chunk table: one CRC-32C (UInt32) per chunk of the regions
//                  below, in file order
//   page-aligned   regions, each starting at a multiple of 4096 and cut into chunks of C bytes (the last
//                  one shorter), each chunk checked by its entry in the table the first time it is read:
//                  labels (N x UInt32 class indices; absent when K = 0), sources (S bytes), then one per
//                  level, 4x4 first and RxR last: N x 3 x r x r UInt8 in NCHW order
//
// Opening reads the first 64 bytes and the class names only, so it takes the same time for any N; a
// damaged chunk is found when it is first used, naming its level and images, and `verify` checks them all.
//
// Every level is stored, like the official dataset_tool, rather than derived from the top level on the
// fly by box filtering, although the levels below R are a quarter of the file. Measured here (C, -O2, one
// core, a batch of 32 from R = 1024): deriving a level by repeated 2x2 averaging costs 0.49-0.83 s per
// batch at every level and reads 96 MiB, against 0.013 ms (4x4) to 1.3 ms (128x128) to convert stored
// pixels, 1400x-49000x slower for the levels the first phases train at, where a step takes milliseconds.
// Stored levels are also exactly what v1 stored (each made from the one above, rounded at each halving),
// so training from either format gives the same bits.

/// The parts of a dataset file that are cut into checked chunks.
enum Region: Hashable {
    case labels, sources
    case level(Int)
}

/// Where each part of a file holding `count` images at `resolution` lives.
struct DatasetLayout {
    static let magic: [UInt8] = Array("PGDSET".utf8) + [0, 0]
    static let version: UInt32 = 2
    static let channels = 3
    static let fixedHeaderSize = 64
    static let pageSize = 4096
    /// 1 MiB: small enough that the first batch verifies little more than it reads (a 64x64 image is 12 KiB,
    /// a 1024x1024 one 3 MiB), large enough that the table stays small (4 bytes per MiB).
    static let defaultChunkSize = 1 << 20
    static let maximumClassNamesSize = 1 << 24

    let resolution: Int
    let count: Int
    let chunkSize: Int
    let classCount: Int
    let classNamesSize: Int
    let sourcesSize: Int

    static func isValid(resolution: Int) -> Bool {
        (4...1024).contains(resolution) && resolution & (resolution - 1) == 0
    }

    /// 4, 8, ..., resolution.
    var levels: [Int] {
        Array(sequence(first: 4) { $0 < resolution ? $0 * 2 : nil })
    }

    var regions: [Region] {
        (classCount > 0 ? [.labels] : []) + [.sources] + levels.map { .level($0) }
    }

    func size(of region: Region) -> Int {
        switch region {
        case .labels: return 4 * count
        case .sources: return sourcesSize
        case .level(let side): return count * Self.channels * side * side
        }
    }

    func chunkCount(of region: Region) -> Int { (size(of: region) + chunkSize - 1) / chunkSize }

    var chunkTableOffset: Int { Self.fixedHeaderSize + classNamesSize }
    var totalChunks: Int { regions.reduce(0) { $0 + chunkCount(of: $1) } }

    /// The offset of `region` in the file and the index of its first chunk in the table.
    func placement(of region: Region) -> (offset: Int, firstChunk: Int) {
        var offset = Self.pageAligned(chunkTableOffset + 4 * totalChunks)
        var firstChunk = 0
        for candidate in regions {
            if candidate == region { return (offset, firstChunk) }
            offset = Self.pageAligned(offset + size(of: candidate))
            firstChunk += chunkCount(of: candidate)
        }
        preconditionFailure("\(region) is not stored in this dataset")
    }

    var fileSize: Int {
        let last = regions.last!
        return placement(of: last).offset + size(of: last)
    }

    func imageOffset(_ index: Int, resolution side: Int) -> Int {
        placement(of: .level(side)).offset + index * Self.channels * side * side
    }

    static func pageAligned(_ offset: Int) -> Int { (offset + pageSize - 1) / pageSize * pageSize }

    /// The images whose pixels share chunk `chunk` (counted within the region) of a level.
    func images(inChunk chunk: Int, ofLevel side: Int) -> Range<Int> {
        let imageSize = Self.channels * side * side
        let start = chunk * chunkSize, end = min(start + chunkSize, size(of: .level(side)))
        return start / imageSize..<(end + imageSize - 1) / imageSize
    }

    /// The fixed header's fields from `version` to `sourcesSize`, in file order.
    var headerFields: [(value: Int, bytes: Int)] {
        [
            (Int(Self.version), 4), (resolution, 4), (count, 4), (Self.channels, 4), (levels.count, 4),
            (chunkSize, 4), (classCount, 4), (classNamesSize, 4), (sourcesSize, 8),
        ]
    }
}

/// CRC-32C with the CPU's instruction where there is one, else SafeIO's table.
enum ChunkChecksum {
    static let hardware = pgcrc32c_available() != 0

    static func of(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        if hardware {
            return pgcrc32c_update(0, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        let start = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return CRC32.checksum(UnsafeBufferPointer(start: start, count: bytes.count), .castagnoli)
    }
}
