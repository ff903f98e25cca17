import Dispatch
import Foundation

/// The identity of what a dataset holds, whatever file format holds it: FNV-1a 64 over the resolution,
/// image count and class count (UInt32 each, little-endian), the class names (JSON, as in the header),
/// then the CRC-32C of every 1 MiB piece of the labels (N x UInt32) and of each level's pixels (N x 3 x r x
/// r, smallest level first), each CRC as a little-endian UInt32. The source list is left out: it says
/// where the pixels came from, not what they are, and a version 1 file has none.
///
/// Version 2 files are cut into chunks of exactly that size, so their identity comes from the chunk
/// table, which the chunk checks tie to the bytes; a version 1 file's is computed when it is opened.
/// Checkpoints record it, so a run on a converted file resumes and writes the same bytes as on the original.
enum DatasetIdentity {
    static let pieceSize = DatasetLayout.defaultChunkSize

    /// `pieces` gives the piece checksums of a region (see `contentRegions`).
    static func of(
        _ layout: DatasetLayout, classNames: [String], pieces: (Region) -> [UInt32]
    ) throws -> UInt64 {
        var hash = FNV1a64()
        for number in [layout.resolution, layout.count, layout.classCount] {
            withUnsafeBytes(of: UInt32(number).littleEndian) { hash.update($0) }
        }
        try DatasetHeader.encodedClassNames(classNames).withUnsafeBytes { hash.update($0) }
        for region in layout.contentRegions {
            for checksum in pieces(region) {
                withUnsafeBytes(of: checksum.littleEndian) { hash.update($0) }
            }
        }
        return hash.value
    }

    /// The CRC-32C of every piece of `bytes`, computed on all cores.
    static func pieceChecksums(of bytes: UnsafeRawBufferPointer) -> [UInt32] {
        let count = (bytes.count + pieceSize - 1) / pieceSize
        let checksums = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: count)
        defer { checksums.deallocate() }
        DispatchQueue.concurrentPerform(iterations: count) { piece in
            let start = piece * pieceSize
            checksums[piece] = ChunkChecksum.of(
                UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + pieceSize, bytes.count)]))
        }
        return Array(checksums)
    }
}

extension DatasetLayout {
    /// The regions that make up the identity: what the images are, not where they came from.
    var contentRegions: [Region] { regions.filter { $0 != .sources } }

    /// The bytes of `region` in a file of this layout.
    func bytes(of region: Region, in file: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let offset = placement(of: region).offset
        return UnsafeRawBufferPointer(rebasing: file[offset..<offset + size(of: region)])
    }

    /// The identity of a version 2 file of this layout: from its chunk table when its chunks are the
    /// identity's pieces (as every file `prepare` writes), else from its bytes.
    func identity(of file: UnsafeRawBufferPointer, classNames: [String]) throws -> UInt64 {
        try DatasetIdentity.of(self, classNames: classNames) { region in
            guard chunkSize == DatasetIdentity.pieceSize else {
                return DatasetIdentity.pieceChecksums(of: bytes(of: region, in: file))
            }
            let start = chunkTableOffset + 4 * placement(of: region).firstChunk
            return (0..<chunkCount(of: region)).map {
                UInt32(littleEndian: file.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self))
            }
        }
    }
}

/// FNV-1a with 64 bits: the identity of a dataset, from its numbers, class names and piece checksums.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            value = (value ^ UInt64(byte)) &* 0x100_0000_01b3
        }
    }
}
