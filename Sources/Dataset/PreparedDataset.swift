import Glibc
import ImageIO
import SafeIO

// Prepared dataset file, format version 1. All integers are little-endian UInt32.
//
//   offset  bytes  field
//        0      8  magic "PGDSET\0\0"
//        8      4  format version = 1
//       12      4  resolution R: a power of two from 4 to 1024
//       16      4  image count N > 0
//       20      4  channels = 3 (R, G, B)
//       24      4  levels L = log2(R) - 1 (4x4, 8x8, ..., RxR)
//       28         one block per level, 4x4 first and RxR last: N x 3 x r x r
//                  UInt8 in NCHW order (rows top to bottom, columns left to right)
//   size-4      4  CRC-32 (SafeIO.CRC32) of every byte before it
//
// Every level is stored, like the official dataset_tool, so that a training
// phase at r x r reads ready-made pixels instead of downsampling each batch;
// smallest first, so the early phases touch only the front of the file.

/// Why a dataset could not be prepared or loaded; `description` is one line
/// naming the file or folder and the problem.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case invalidResolution(Int)
    case noSuchDirectory(folder: String)
    case notADirectory(folder: String)
    case noPNGFiles(folder: String)
    case noUsableImages(folder: String, found: Int, skipped: Int)
    case imageChanged(ImageError)
    case notADataset(path: String)
    case tooShort(path: String, size: Int)
    case unsupportedVersion(path: String, version: UInt32)
    case corruptHeader(path: String, problem: String)
    case sizeMismatch(path: String, size: Int, expected: Int, count: Int, resolution: Int)
    case checksumMismatch(path: String)
    /// A preparation interrupted by a stop request; its temporary file is removed.
    case stopped(output: String)

    public var description: String {
        switch self {
        case .invalidResolution(let resolution):
            return "resolution \(resolution) is not a power of two from 4 to 1024"
        case .noSuchDirectory(let folder):
            return "\(folder): no such directory"
        case .notADirectory(let folder):
            return "\(folder): not a directory"
        case .noPNGFiles(let folder):
            return "\(folder): no PNG files found"
        case .noUsableImages(let folder, let found, let skipped):
            return "\(folder): no usable PNG images (\(found) files, \(skipped) skipped)"
        case .imageChanged(let error):
            return "\(error) (it changed while the dataset was being prepared)"
        case .notADataset(let path):
            return "\(path): not a prepared dataset (no PGDSET signature); create one with progan prepare"
        case .tooShort(let path, let size):
            return "\(path): truncated: \(size) bytes is shorter than the header and checksum"
        case .unsupportedVersion(let path, let version):
            return "\(path): built by format version \(version); this build reads version "
                + "\(DatasetLayout.version) — run progan prepare again"
        case .corruptHeader(let path, let problem):
            return "\(path): corrupt header: \(problem)"
        case .sizeMismatch(let path, let size, let expected, let count, let resolution):
            return "\(path): \(size) bytes, but \(count) images at \(resolution)x\(resolution) take "
                + "\(expected) bytes: the file is truncated or corrupt"
        case .checksumMismatch(let path):
            return "\(path): checksum mismatch: the file is corrupt"
        case .stopped(let output):
            return "\(output): preparation stopped on request; nothing written"
        }
    }
}

/// Where each part of a file holding `count` images at `resolution` lives.
struct DatasetLayout {
    static let magic: [UInt8] = Array("PGDSET".utf8) + [0, 0]
    static let version: UInt32 = 1
    static let channels = 3
    static let headerSize = 28
    static let checksumSize = 4

    let resolution: Int
    let count: Int

    static func isValid(resolution: Int) -> Bool {
        (4...1024).contains(resolution) && resolution & (resolution - 1) == 0
    }

    /// 4, 8, ..., resolution.
    var levels: [Int] {
        Array(sequence(first: 4) { $0 < resolution ? $0 * 2 : nil })
    }

    func imageOffset(_ index: Int, resolution side: Int) -> Int {
        let smallerLevelBytes = levels.prefix { $0 < side }.reduce(0) { $0 + $1 * $1 } * Self.channels * count
        return Self.headerSize + smallerLevelBytes + index * Self.channels * side * side
    }

    // Cannot overflow for any header: at most 2^32 images of under 2^23 bytes each.
    var checksumOffset: Int { imageOffset(count, resolution: resolution) }

    var fileSize: Int { checksumOffset + Self.checksumSize }

    func writeHeader(into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyBytes(from: Self.magic)
        let fields = [Int(Self.version), resolution, count, Self.channels, levels.count]
        for (index, field) in fields.enumerated() {
            bytes.storeBytes(
                of: UInt32(field).littleEndian, toByteOffset: Self.magic.count + 4 * index, as: UInt32.self)
        }
    }

    func writeChecksum(into bytes: UnsafeMutableRawBufferPointer) {
        let checksum = CRC32.checksum(
            UnsafeBufferPointer(rebasing: bytes.bindMemory(to: UInt8.self)[..<checksumOffset]))
        bytes.storeBytes(of: checksum.littleEndian, toByteOffset: checksumOffset, as: UInt32.self)
    }

    /// Checks everything `writeHeader` and `writeChecksum` put in `bytes`. The
    /// header's numbers serve only to compute the expected size until the file
    /// is known to have it, so a corrupt count can make the caller neither
    /// allocate nor read out of bounds.
    static func validated(_ bytes: UnsafeRawBufferPointer, path: String) throws(DatasetError) -> DatasetLayout {
        func field(_ index: Int) -> UInt32 {
            UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: magic.count + 4 * index, as: UInt32.self))
        }
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            throw .notADataset(path: path)
        }
        guard bytes.count >= headerSize + checksumSize else {
            throw .tooShort(path: path, size: bytes.count)
        }
        guard field(0) == version else {
            throw .unsupportedVersion(path: path, version: field(0))
        }
        let layout = DatasetLayout(resolution: Int(field(1)), count: Int(field(2)))
        guard isValid(resolution: layout.resolution) else {
            throw .corruptHeader(path: path, problem: DatasetError.invalidResolution(layout.resolution).description)
        }
        guard layout.count > 0 else {
            throw .corruptHeader(path: path, problem: "it holds no images")
        }
        guard field(3) == channels else {
            throw .corruptHeader(path: path, problem: "\(field(3)) channels instead of \(channels)")
        }
        guard field(4) == layout.levels.count else {
            throw .corruptHeader(
                path: path,
                problem: "\(field(4)) levels, but resolution \(layout.resolution) has \(layout.levels.count)")
        }
        guard bytes.count == layout.fileSize else {
            throw .sizeMismatch(
                path: path, size: bytes.count, expected: layout.fileSize, count: layout.count,
                resolution: layout.resolution)
        }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: layout.checksumOffset, as: UInt32.self))
        let computed = CRC32.checksum(
            UnsafeBufferPointer(rebasing: bytes.bindMemory(to: UInt8.self)[..<layout.checksumOffset]))
        guard stored == computed else {
            throw .checksumMismatch(path: path)
        }
        return layout
    }
}

/// A prepared dataset file (see the format above), mapped into memory rather
/// than read so that the ranks of a job on one machine share one copy of it in
/// the page cache.
///
/// Sendable because nothing changes after `init`; the file is only ever
/// replaced by rename (AtomicFile), never rewritten in place under a mapping.
public final class PreparedDataset: @unchecked Sendable {
    public let path: String
    public let count: Int
    /// The largest stored resolution.
    public let resolution: Int
    /// Every stored resolution, smallest first: 4, 8, ..., `resolution`.
    public let levels: [Int]
    /// Colour channels per image (RGB); `fillBatch` writes this many planes per image.
    public static let channels = DatasetLayout.channels

    private let layout: DatasetLayout
    private let file: MappedFile

    public init(path: String) throws {
        file = try MappedFile(readingFrom: path)
        layout = try DatasetLayout.validated(UnsafeRawBufferPointer(file.bytes), path: path)
        self.path = path
        count = layout.count
        resolution = layout.resolution
        levels = layout.levels
    }

    /// Writes images `indices` at `resolution` as floats in [-1, 1] in NCHW
    /// order, mirrored left to right where `mirror[i]` is true.
    public func fillBatch(
        indices: [Int], resolution side: Int, mirror: [Bool]?, into output: UnsafeMutablePointer<Float>
    ) {
        precondition(mirror == nil || mirror!.count == indices.count, "fillBatch needs one mirror flag per index")
        var destination = output
        for (position, index) in indices.enumerated() {
            let source = pixels(index, resolution: side)
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

    public func image(_ index: Int, resolution side: Int) -> RGBImage {
        let planes = pixels(index, resolution: side)
        let planeSize = side * side
        var interleaved = [UInt8](repeating: 0, count: DatasetLayout.channels * planeSize)
        for pixel in 0..<planeSize {
            for channel in 0..<DatasetLayout.channels {
                interleaved[DatasetLayout.channels * pixel + channel] = planes[channel * planeSize + pixel]
            }
        }
        return RGBImage(width: side, height: side, pixels: interleaved)
    }

    private func pixels(_ index: Int, resolution side: Int) -> UnsafePointer<UInt8> {
        precondition(levels.contains(side), "\(path) has no \(side)x\(side) level; it holds \(levels)")
        precondition((0..<count).contains(index), "image \(index) is out of range for \(path) with \(count) images")
        return UnsafePointer(
            file.bytes.baseAddress!.advanced(by: layout.imageOffset(index, resolution: side))
                .assumingMemoryBound(to: UInt8.self))
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
