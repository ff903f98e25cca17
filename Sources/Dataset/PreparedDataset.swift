import Foundation
import ImageIO
import SafeIO

/// A prepared dataset file (see DatasetLayout for the format), mapped into memory rather than read so
/// that the ranks of a job on one machine share one copy of it in the page cache.
///
/// Each chunk is checked against its checksum the first time any of its bytes is read; a damaged one
/// throws `DatasetError.corruptChunk` from then on, so no batch ever holds its pixels.
/// Sendable because the mapping never changes after `init` (the file is only ever replaced by rename)
/// and the record of checked chunks is behind a lock.
public final class PreparedDataset: @unchecked Sendable {
    public let path: String
    public let count: Int
    /// The largest stored resolution.
    public let resolution: Int
    /// Every stored resolution, smallest first: 4, 8, ..., `resolution`.
    public let levels: [Int]
    /// Colour channels per image (RGB); `fillBatch` writes this many planes per image.
    public static let channels = DatasetLayout.channels
    /// The classes, in label order; empty for an unlabelled dataset.
    public let classNames: [String]
    /// 16 hex digits that change with the pixels of any level, the labels or the class names, but not with
    /// the file format or the source list (see DatasetIdentity): what a checkpoint records to refuse
    /// resuming on another dataset.
    public let identity: String
    /// 2, or 1 for a file read and checked whole at open (see LegacyDataset), which `prepare --upgrade` converts.
    public let formatVersion: UInt32

    let layout: DatasetLayout
    let file: MappedFile
    private let regionOffsets: [Region: Int]
    /// Nil for a version 1 file, checked whole at open.
    private let checks: ChunkChecks?

    public init(path: String) throws {
        file = try MappedFile(readingFrom: path)
        let bytes = UnsafeRawBufferPointer(file.bytes)
        if LegacyDataset.isLegacy(bytes) {
            let legacy = try LegacyDataset(bytes, path: path)
            layout = legacy.layout
            classNames = []
            identity = DatasetHeader.hex(legacy.identity)
            formatVersion = LegacyDataset.version
            regionOffsets = Dictionary(uniqueKeysWithValues: legacy.levelOffsets.map { (.level($0), $1) })
            checks = nil
        } else {
            let header = try DatasetHeader.read(bytes, path: path)
            layout = header.layout
            classNames = header.classNames
            identity = DatasetHeader.hex(header.identity)
            formatVersion = DatasetLayout.version
            regionOffsets = Dictionary(
                uniqueKeysWithValues: layout.regions.map { [layout] in ($0, layout.placement(of: $0).offset) })
            checks = ChunkChecks(count: layout.totalChunks)
        }
        self.path = path
        count = layout.count
        resolution = layout.resolution
        levels = layout.levels
    }

    /// Writes images `indices` at `resolution` as floats in [-1, 1] in NCHW
    /// order, mirrored left to right where `mirror[i]` is true.
    public func fillBatch(
        indices: [Int], resolution side: Int, mirror: [Bool]?, into output: UnsafeMutablePointer<Float>
    ) throws(DatasetError) {
        precondition(mirror == nil || mirror!.count == indices.count, "fillBatch needs one mirror flag per index")
        var destination = output
        for (position, index) in indices.enumerated() {
            let source = try pixels(index, resolution: side)
            let flipped = mirror?[position] ?? false
            // Planes are contiguous, so an image is 3 * side rows of `side` pixels.
            for row in 0..<DatasetLayout.channels * side {
                let sourceRow = source + row * side
                for x in 0..<side {
                    destination[x] = Float(sourceRow[flipped ? side - 1 - x : x]) / 127.5 - 1
                }
                destination += side
            }
        }
    }

    public func image(_ index: Int, resolution side: Int) throws(DatasetError) -> RGBImage {
        let planes = try pixels(index, resolution: side)
        let planeSize = side * side
        var interleaved = [UInt8](repeating: 0, count: DatasetLayout.channels * planeSize)
        for pixel in 0..<planeSize {
            for channel in 0..<DatasetLayout.channels {
                interleaved[DatasetLayout.channels * pixel + channel] = planes[channel * planeSize + pixel]
            }
        }
        return RGBImage(width: side, height: side, pixels: interleaved)
    }

    /// The class index of every image, in dataset order; nil for an unlabelled dataset.
    public func labels() throws(DatasetError) -> [Int]? {
        guard layout.classCount > 0 else { return nil }
        let bytes = try checkedBytes(of: .labels)
        let labels = (0..<count).map {
            Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
        }
        // Checked data can only disagree with its header if it was written wrong; still, never index with it blindly.
        guard labels.allSatisfy({ $0 < layout.classCount }) else {
            throw .corruptHeader(path: path, problem: "a label outside the \(layout.classCount) classes")
        }
        return labels
    }

    /// The source files the images were made from, in dataset order (none for a version 1 file).
    public func sources() throws(DatasetError) -> [SourceRecord] {
        guard regionOffsets[.sources] != nil else { return [] }
        let bytes = try checkedBytes(of: .sources)
        guard let records = try? JSONDecoder().decode([SourceRecord].self, from: Data(bytes)) else {
            throw .corruptHeader(path: path, problem: "the source list is not valid JSON")
        }
        return records
    }

    private func pixels(_ index: Int, resolution side: Int) throws(DatasetError) -> UnsafePointer<UInt8> {
        guard let levelOffset = regionOffsets[.level(side)] else {
            preconditionFailure("\(path) has no \(side)x\(side) level; it holds \(levels)")
        }
        precondition((0..<count).contains(index), "image \(index) is out of range for \(path) with \(count) images")
        let imageSize = DatasetLayout.channels * side * side
        let start = index * imageSize
        try check(.level(side), bytes: start..<start + imageSize)
        return UnsafePointer(
            file.bytes.baseAddress!.advanced(by: levelOffset + start).assumingMemoryBound(to: UInt8.self))
    }

    /// The bytes of `region` (one the file holds), every chunk checked.
    func checkedBytes(of region: Region) throws(DatasetError) -> UnsafeRawBufferPointer {
        let size = layout.size(of: region)
        try check(region, bytes: 0..<size)
        let offset = regionOffsets[region]!
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(file.bytes)[offset..<offset + size])
    }

    /// Verifies, once, every chunk of `region` that holds a byte of `bytes` (offsets within the region).
    private func check(_ region: Region, bytes: Range<Int>) throws(DatasetError) {
        guard let checks else { return }
        let chunks = bytes.lowerBound / layout.chunkSize...(bytes.upperBound - 1) / layout.chunkSize
        let first = layout.placement(of: region).firstChunk
        for chunk in chunks {
            try checks.once(first + chunk) { () throws(DatasetError) in
                guard verifyChunk(chunk, of: region) else { throw corruption(chunk, of: region) }
            }
        }
    }

    /// Whether chunk `chunk` (counted within `region`) matches its checksum.
    func verifyChunk(_ chunk: Int, of region: Region) -> Bool {
        let (offset, firstChunk) = layout.placement(of: region)
        let start = chunk * layout.chunkSize
        let end = min(start + layout.chunkSize, layout.size(of: region))
        let bytes = UnsafeRawBufferPointer(file.bytes)
        let stored = UInt32(
            littleEndian: bytes.loadUnaligned(
                fromByteOffset: layout.chunkTableOffset + 4 * (firstChunk + chunk), as: UInt32.self))
        return ChunkChecksum.of(UnsafeRawBufferPointer(rebasing: bytes[offset + start..<offset + end])) == stored
    }

    func corruption(_ chunk: Int, of region: Region) -> DatasetError {
        switch region {
        case .labels: return .corruptChunk(path: path, region: "labels", chunk: chunk, images: nil)
        case .sources: return .corruptChunk(path: path, region: "source list", chunk: chunk, images: nil)
        case .level(let side):
            return .corruptChunk(
                path: path, region: "level \(side)x\(side)", chunk: chunk,
                images: layout.images(inChunk: chunk, ofLevel: side))
        }
    }
}

/// One source file of a dataset: its path relative to the image folder (invalid UTF-8 shown as U+FFFD),
/// size and CRC-32C, so that a dataset says what it was made from.
public struct SourceRecord: Codable, Equatable, Sendable {
    public let path: String
    public let size: Int
    public let crc32c: String

    /// The source list as a dataset file stores it. Sorted keys: the encoder's order otherwise follows each
    /// process's hash seed, and the file must be the same bytes from any run.
    static func encodedList(_ records: [SourceRecord]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(records))
    }
}

/// Which chunks have been found intact (a byte per chunk: 128 KB for a 126 GB file), behind a lock. A
/// damaged chunk is checked again at every read, and fails again.
private final class ChunkChecks: @unchecked Sendable {
    private var intact: [Bool]
    private let lock = NSLock()

    init(count: Int) { intact = [Bool](repeating: false, count: count) }

    func once(_ chunk: Int, _ verify: () throws(DatasetError) -> Void) throws(DatasetError) {
        lock.lock()
        defer { lock.unlock() }
        guard !intact[chunk] else { return }
        try verify()
        intact[chunk] = true
    }
}

extension RGBImage {
    /// Stores the pixels plane by plane (R, then G, then B), the order of the file and of the networks' tensors.
    func copyPlanes(to destination: UnsafeMutableRawPointer) {
        let planeSize = width * height
        let planes = destination.assumingMemoryBound(to: UInt8.self)
        for pixel in 0..<planeSize {
            for channel in 0..<DatasetLayout.channels {
                planes[channel * planeSize + pixel] = pixels[DatasetLayout.channels * pixel + channel]
            }
        }
    }
}

/// A whole file mapped into memory; unmapped when released.
final class MappedFile {
    let bytes: UnsafeMutableRawBufferPointer

    /// Maps an existing regular file read-only.
    convenience init(readingFrom path: String) throws(FileError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .fromErrno(path: path, action: "cannot open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .fromErrno(path: path, action: "cannot read its size") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw FileError(path: path, problem: "not a regular file") }
        try self.init(descriptor: descriptor, size: Int(status.st_size), writable: false, path: path)
    }

    /// Maps an existing empty file read-write after growing it to `size` bytes.
    convenience init(resizing path: String, to size: Int) throws(FileError) {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw .fromErrno(path: path, action: "cannot open") }
        defer { close(descriptor) }
        // Allocating the blocks now turns a full disk into this error rather
        // than a SIGBUS on some later store into the mapping.
        let status = posix_fallocate(descriptor, 0, off_t(size))
        guard status == 0 else {
            throw FileError(path: path, problem: "cannot allocate \(size) bytes: \(String(cString: strerror(status)))")
        }
        try self.init(descriptor: descriptor, size: size, writable: true, path: path)
    }

    private init(descriptor: Int32, size: Int, writable: Bool, path: String) throws(FileError) {
        // mmap rejects a length of zero; an empty file maps to an empty buffer.
        guard size > 0 else {
            bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            return
        }
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        let address = mmap(nil, size, protection, MAP_SHARED, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw .fromErrno(path: path, action: "cannot map into memory")
        }
        bytes = UnsafeMutableRawBufferPointer(start: address, count: size)
    }

    // Stores through a shared mapping land in the page cache, so the fsync that
    // AtomicFile issues on its own descriptor makes them durable; no msync needed.
    deinit {
        if let address = bytes.baseAddress {
            munmap(address, bytes.count)
        }
    }
}
