import Glibc
import ImageIO
import SafeIO

/// What `PreparedDataset.prepare` did.
public struct PreparationReport: Sendable {
    public let folder: String
    public let output: String
    /// Bytes written to `output`.
    public let fileSize: Int
    public let resolution: Int
    /// Every stored resolution, smallest first.
    public let levels: [Int]
    /// PNG files in the folder, usable or not.
    public let filesFound: Int
    public let imagesUsed: Int
    /// In file-name order.
    public let skipped: [SkippedImage]
    /// Original sizes of the used images, most common first.
    public let sizes: [SizeCount]
}

public struct SkippedImage: Equatable, Sendable {
    /// The name within the folder.
    public let file: String
    public let error: ImageError
}

public struct SizeCount: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let count: Int
}

extension PreparedDataset {
    /// Writes every readable `*.png` directly in `folder` (any case of the
    /// extension, in file-name order) to a dataset file at `output`, replacing
    /// it atomically. Each image is centre-cropped to a square, area-resized to
    /// `resolution` and halved down to 4x4; unreadable images are skipped and
    /// reported. Without a `resolution`, the largest power of two not above the
    /// median side of the cropped images (clamped to 4...1024) is used.
    ///
    /// Images are decoded twice, once to learn which are usable and their sizes
    /// and once to convert them, so memory holds one image at a time however
    /// large the dataset.
    ///
    /// `stopRequested` is asked before each image; when it answers true the preparation ends with
    /// `DatasetError.stopped` and leaves no file behind.
    @discardableResult
    public static func prepare(
        folder: String, resolution: Int? = nil, output: String, stopRequested: () -> Bool = { false }
    ) throws -> PreparationReport {
        if let resolution, !DatasetLayout.isValid(resolution: resolution) {
            throw DatasetError.invalidResolution(resolution)
        }
        let files = try pngFiles(in: folder)
        guard !files.isEmpty else { throw DatasetError.noPNGFiles(folder: folder) }
        var report: PreparationReport?
        // Decoding happens inside the write, after the temporary file exists,
        // so an unwritable output fails before the slow part rather than after.
        try AtomicFile.write(to: output) { temporaryPath in
            report = try write(
                files, from: folder, resolution: resolution, to: temporaryPath, reportingAs: output,
                stopRequested: stopRequested)
        }
        return report!
    }

    private static func write(
        _ files: [String], from folder: String, resolution: Int?, to temporaryPath: String, reportingAs output: String,
        stopRequested: () -> Bool
    ) throws -> PreparationReport {
        var usable: [(file: String, width: Int, height: Int)] = []
        var skipped: [SkippedImage] = []
        for file in files {
            if stopRequested() { throw DatasetError.stopped(output: output) }
            do {
                let image = try RGBImage.read(path: "\(folder)/\(file)")
                usable.append((file, image.width, image.height))
            } catch {
                skipped.append(SkippedImage(file: file, error: error))
            }
        }
        guard !usable.isEmpty else {
            throw DatasetError.noUsableImages(folder: folder, found: files.count, skipped: skipped.count)
        }

        let layout = DatasetLayout(
            resolution: resolution ?? defaultResolution(sides: usable.map { min($0.width, $0.height) }),
            count: usable.count)
        let file = try MappedFile(resizing: temporaryPath, to: layout.fileSize)
        // The mapping must outlive every store through `file.bytes`.
        try withExtendedLifetime(file) {
            layout.writeHeader(into: file.bytes)
            for (index, image) in usable.enumerated() {
                if stopRequested() { throw DatasetError.stopped(output: output) }
                try storeLevels(of: "\(folder)/\(image.file)", as: index, layout: layout, into: file.bytes)
            }
            layout.writeChecksum(into: file.bytes)
        }

        let sizeCounts = Dictionary(usable.map { ([$0.width, $0.height], 1) }, uniquingKeysWith: +)
        return PreparationReport(
            folder: folder, output: output, fileSize: layout.fileSize, resolution: layout.resolution,
            levels: layout.levels, filesFound: files.count, imagesUsed: usable.count, skipped: skipped,
            sizes:
                sizeCounts
                .map { SizeCount(width: $0.key[0], height: $0.key[1], count: $0.value) }
                .sorted { ($1.count, $0.width, $0.height) < ($0.count, $1.width, $1.height) })
    }

    /// Stores image `index` of the dataset at every level, each made from the one above.
    private static func storeLevels(
        of path: String, as index: Int, layout: DatasetLayout, into bytes: UnsafeMutableRawBufferPointer
    ) throws(DatasetError) {
        var level: RGBImage
        do {
            level = try RGBImage.read(path: path).centreCropped()
        } catch {
            throw .imageChanged(error)
        }
        for side in layout.levels.reversed() {
            level = level.areaResized(toSide: side)
            level.copyPlanes(to: bytes.baseAddress! + layout.imageOffset(index, resolution: side))
        }
    }

    /// The largest power of two not above the median side, within 4...1024.
    static func defaultResolution(sides: [Int]) -> Int {
        let sorted = sides.sorted()
        // Twice the median, which keeps an even count's half-way median whole.
        let twiceMedian = sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]
        var resolution = 4
        while resolution < 1024 && 4 * resolution <= twiceMedian {
            resolution *= 2
        }
        return resolution
    }

    /// Names of the `*.png` entries directly in `folder`, sorted so the dataset's order is reproducible.
    private static func pngFiles(in folder: String) throws -> [String] {
        guard let directory = opendir(folder) else {
            switch errno {
            case ENOENT: throw DatasetError.noSuchDirectory(folder: folder)
            case ENOTDIR: throw DatasetError.notADirectory(folder: folder)
            default: throw FileError.fromErrno(path: folder, action: "cannot list")
            }
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.lowercased().hasSuffix(".png") {
                names.append(name)
            }
        }
        return names.sorted()
    }
}
