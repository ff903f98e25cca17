import Dispatch
import ImageIO
import SafeIO

/// Fills a mapped file of `layout`'s size: regions first (from any number of threads, each image to its
/// own place), then the chunk table and the header, which cover them.
struct DatasetWriter: @unchecked Sendable {
    let layout: DatasetLayout
    let bytes: UnsafeMutableRawBufferPointer

    func store(labels: [Int]) {
        guard layout.classCount > 0 else { return }
        let offset = layout.placement(of: .labels).offset
        for (index, label) in labels.enumerated() {
            bytes.storeBytes(of: UInt32(label).littleEndian, toByteOffset: offset + 4 * index, as: UInt32.self)
        }
    }

    func store(_ content: some Collection<UInt8>, in region: Region) {
        let offset = layout.placement(of: region).offset
        UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + content.count]).copyBytes(from: content)
    }

    /// Checksums every chunk (on all cores), writes the table and the header, and returns the identity.
    func finish(classNames: [String]) throws -> UInt64 {
        let chunks = layout.regions.flatMap { region in
            (0..<layout.chunkCount(of: region)).map { chunk -> Range<Int> in
                let offset = layout.placement(of: region).offset + chunk * layout.chunkSize
                return
                    offset..<min(
                        offset + layout.chunkSize, layout.placement(of: region).offset + layout.size(of: region))
            }
        }
        let table = layout.chunkTableOffset
        let target = bytes
        DispatchQueue.concurrentPerform(iterations: chunks.count) { index in
            let checksum = ChunkChecksum.of(UnsafeRawBufferPointer(rebasing: target[chunks[index]]))
            target.storeBytes(of: checksum.littleEndian, toByteOffset: table + 4 * index, as: UInt32.self)
        }
        let identity = try layout.identity(of: UnsafeRawBufferPointer(bytes), classNames: classNames)
        let header = try DatasetHeader(layout: layout, classNames: classNames, identity: identity).encoded()
        UnsafeMutableRawBufferPointer(rebasing: bytes[0..<header.count]).copyBytes(from: header)
        return identity
    }
}

extension PreparedDataset {
    /// A dataset of `count` noise images at `resolution`, unlabelled and without sources, written without
    /// decoding anything: the subject of the open, first-batch and verify benchmarks at sizes no image
    /// folder here has.
    public static func writeSynthetic(count: Int, resolution: Int, output: String) throws {
        guard DatasetLayout.isValid(resolution: resolution) else { throw DatasetError.invalidResolution(resolution) }
        let layout = DatasetLayout(
            resolution: resolution, count: count, chunkSize: DatasetLayout.defaultChunkSize, classCount: 0,
            classNamesSize: try DatasetHeader.encodedClassNames([]).count, sourcesSize: 2)
        try AtomicFile.write(to: output) { temporaryPath in
            let file = try MappedFile(resizing: temporaryPath, to: layout.fileSize)
            let writer = DatasetWriter(layout: layout, bytes: file.bytes)
            try withExtendedLifetime(file) {
                writer.store(Array("[]".utf8), in: .sources)
                for side in layout.levels {
                    let offset = layout.placement(of: .level(side)).offset
                    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(side)
                    for index in offset..<offset + layout.size(of: .level(side)) {
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        file.bytes[index] = UInt8(truncatingIfNeeded: state >> 56)
                    }
                }
                _ = try writer.finish(classNames: [])
            }
        }
    }
}

extension PreparedDataset {
    /// Writes this dataset in the current format to `output`, replacing it atomically: labels, class
    /// names, source list (a version 1 file has none) and every level's pixels as they are, each chunk
    /// checked as it is read, so the copy has the same identity. Returns the size of the new file.
    public func upgrade(to output: String) throws -> Int {
        let labels = try labels() ?? []
        let sourcesJSON = try SourceRecord.encodedList(sources())
        let layout = DatasetLayout(
            resolution: resolution, count: count, chunkSize: DatasetLayout.defaultChunkSize,
            classCount: classNames.count, classNamesSize: try DatasetHeader.encodedClassNames(classNames).count,
            sourcesSize: sourcesJSON.count)
        try AtomicFile.write(to: output) { temporaryPath in
            let file = try MappedFile(resizing: temporaryPath, to: layout.fileSize)
            let writer = DatasetWriter(layout: layout, bytes: file.bytes)
            try withExtendedLifetime(file) {
                writer.store(labels: labels)
                writer.store(sourcesJSON, in: .sources)
                for side in levels {
                    writer.store(try checkedBytes(of: .level(side)), in: .level(side))
                }
                _ = try writer.finish(classNames: classNames)
            }
        }
        return layout.fileSize
    }
}

extension PreparedDataset {
    /// The size of a prepared file of `images` unlabelled images at `resolution` without a source list;
    /// labels add 4 bytes an image and the source list about 60.
    public static func fileSize(images: Int, resolution: Int) -> Int {
        DatasetLayout(
            resolution: resolution, count: images, chunkSize: DatasetLayout.defaultChunkSize, classCount: 0,
            classNamesSize: 2, sourcesSize: 2
        ).fileSize
    }

    /// The bytes of one level of `images` images.
    public static func levelSize(images: Int, resolution: Int) -> Int {
        images * DatasetLayout.channels * resolution * resolution
    }
}
