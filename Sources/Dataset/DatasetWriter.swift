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

    func store(_ content: [UInt8], in region: Region) {
        let offset = layout.placement(of: region).offset
        UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + content.count]).copyBytes(from: content)
    }

    /// Stores image `index` at every level, each made from the one above, after checking that the file is
    /// still the one the scan saw.
    func storeLevels(of path: [CChar], displayPath: String, scan: Scan, as index: Int) throws(DatasetError) {
        let content: [UInt8]
        do {
            content = try ImageFile.read(path: path, displayPath: displayPath)
        } catch {
            throw .imageChanged(error)
        }
        guard content.count == scan.size, content.withUnsafeBytes({ ChunkChecksum.of($0) }) == scan.crc32c else {
            throw .imageChanged(.cannotOpen(path: displayPath, reason: "its content differs from the first pass"))
        }
        var level: RGBImage
        do {
            level = try RGBImage.decode(content, displayPath: displayPath).centreCropped()
        } catch {
            throw .imageChanged(error)
        }
        for side in layout.levels.reversed() {
            level = level.areaResized(toSide: side)
            level.copyPlanes(to: bytes.baseAddress! + layout.imageOffset(index, resolution: side))
        }
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
        var identity = FNV1a64()
        let provisional = try DatasetHeader(layout: layout, classNames: classNames, identity: 0).encoded()
        provisional.prefix(48).withUnsafeBytes { identity.update($0) }
        identity.update(UnsafeRawBufferPointer(rebasing: bytes[table..<table + 4 * chunks.count]))
        let header = try DatasetHeader(layout: layout, classNames: classNames, identity: identity.value).encoded()
        UnsafeMutableRawBufferPointer(rebasing: bytes[0..<header.count]).copyBytes(from: header)
        return identity.value
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
