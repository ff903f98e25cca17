import Foundation

/// The first part of a dataset file: the fixed 64 bytes and the class names (see DatasetLayout's format).
struct DatasetHeader {
    let layout: DatasetLayout
    let classNames: [String]
    let identity: UInt64

    static func hex(_ identity: UInt64) -> String {
        let digits = String(identity, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    static func encodedClassNames(_ names: [String]) throws -> [UInt8] {
        Array(try JSONEncoder().encode(names))
    }

    /// The header's bytes, to be written at offset 0.
    func encoded() throws -> [UInt8] {
        var bytes = DatasetLayout.magic
        for field in layout.headerFields {
            for index in 0..<field.bytes { bytes.append(UInt8(truncatingIfNeeded: field.value >> (8 * index))) }
        }
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: identity >> (8 * UInt64(index)))) }
        let names = try Self.encodedClassNames(classNames)
        let checksum = (bytes + names).withUnsafeBytes { ChunkChecksum.of($0) }
        for index in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: checksum >> (8 * UInt32(index)))) }
        bytes += [0, 0, 0, 0]
        return bytes + names
    }

    /// Reads and checks the header of the file `bytes`: everything but the chunks, in time independent of
    /// the number of images. The header's numbers serve only to compute the expected size until the file
    /// is known to have it, so a corrupt count can make the caller neither allocate nor read out of bounds.
    static func read(_ bytes: UnsafeRawBufferPointer, path: String) throws(DatasetError) -> DatasetHeader {
        func integer(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        let magic = DatasetLayout.magic
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            throw .notADataset(path: path)
        }
        guard bytes.count >= 12 else { throw .tooShort(path: path, size: bytes.count) }
        let version = UInt32(integer(8, 4))
        guard version == DatasetLayout.version else { throw .unsupportedVersion(path: path, version: version) }
        guard bytes.count >= DatasetLayout.fixedHeaderSize else { throw .tooShort(path: path, size: bytes.count) }
        let classNamesSize = integer(36, 4)
        guard classNamesSize <= DatasetLayout.maximumClassNamesSize,
            bytes.count >= DatasetLayout.fixedHeaderSize + classNamesSize
        else { throw .corruptHeader(path: path, problem: "class names of \(classNamesSize) bytes") }
        let checked = Array(bytes[0..<56]) + Array(bytes[64..<64 + classNamesSize])
        guard checked.withUnsafeBytes({ ChunkChecksum.of($0) }) == UInt32(integer(56, 4)) else {
            throw .corruptHeader(path: path, problem: "header checksum mismatch")
        }
        let layout = DatasetLayout(
            resolution: integer(12, 4), count: integer(16, 4), chunkSize: integer(28, 4),
            classCount: integer(32, 4), classNamesSize: classNamesSize, sourcesSize: integer(40, 8))
        try check(layout, channels: integer(20, 4), levels: integer(24, 4), path: path)
        guard bytes.count == layout.fileSize else {
            throw .sizeMismatch(path: path, size: bytes.count, expected: layout.fileSize)
        }
        let names = try? JSONDecoder().decode([String].self, from: Data(bytes[64..<64 + classNamesSize]))
        guard let names, names.count == layout.classCount else {
            throw .corruptHeader(path: path, problem: "the class names are not a list of \(layout.classCount)")
        }
        return DatasetHeader(layout: layout, classNames: names, identity: UInt64(bitPattern: Int64(integer(48, 8))))
    }

    /// Ranges of the header's numbers, so that every size computed from them fits an Int.
    static func check(_ layout: DatasetLayout, channels: Int, levels: Int, path: String) throws(DatasetError) {
        func problem(_ text: String) -> DatasetError { .corruptHeader(path: path, problem: text) }
        guard DatasetLayout.isValid(resolution: layout.resolution) else {
            throw problem(DatasetError.invalidResolution(layout.resolution).description)
        }
        guard layout.count > 0 else { throw problem("it holds no images") }
        guard channels == DatasetLayout.channels else {
            throw problem("\(channels) channels instead of \(DatasetLayout.channels)")
        }
        guard levels == layout.levels.count else {
            throw problem("\(levels) levels, but resolution \(layout.resolution) has \(layout.levels.count)")
        }
        guard layout.chunkSize >= DatasetLayout.pageSize, layout.chunkSize % DatasetLayout.pageSize == 0 else {
            throw problem("chunk size \(layout.chunkSize) is not a positive multiple of \(DatasetLayout.pageSize)")
        }
        guard layout.sourcesSize < 1 << 40 else { throw problem("a source list of \(layout.sourcesSize) bytes") }
    }
}
