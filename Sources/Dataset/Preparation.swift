import Dispatch
import Foundation
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
    /// PNG and JPEG files under the folder, usable or not (at most `--max-images`).
    public let filesFound: Int
    public let imagesUsed: Int
    /// In path order.
    public let skipped: [SkippedImage]
    /// Original sizes of the used images, most common first.
    public let sizes: [SizeCount]
    /// Images per class, in label order; empty for an unlabelled dataset.
    public let classes: [ClassCount]
    public let identity: String
}

public struct SkippedImage: Equatable, Sendable {
    /// The path relative to the folder.
    public let file: String
    public let error: ImageError
}

public struct SizeCount: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let count: Int
}

public struct ClassCount: Equatable, Sendable {
    public let name: String
    public let count: Int
}

/// How far a preparation is: `done` of `total` images in `phase` ("scanning", "converting").
public typealias PreparationProgress = @Sendable (_ phase: String, _ done: Int, _ total: Int) -> Void

extension PreparedDataset {
    /// Writes every readable PNG and JPEG under `folder` (see FolderListing: recursive, sorted by path
    /// bytes; the first `maxImages` files only, as dataset_tool.py's --max-images) to a dataset file at
    /// `output`, replacing it atomically. Labels come from ClassAssignment. Each image is centre-cropped to
    /// a square, area-resized to `resolution` (see RGBImage.areaResized: averaging when shrinking; an image
    /// smaller than the target is enlarged by the same rule, each source pixel becoming a block, never
    /// interpolated) and halved down to 4x4; unreadable images are skipped and reported. Without a
    /// `resolution`, the largest power of two not above the median side of the cropped images (clamped to
    /// 4...1024) is used.
    ///
    /// Images are decoded on every core, twice: once to learn which are usable and their sizes, once to
    /// convert them, so memory holds one image per thread however large the dataset. The output does not
    /// depend on the number of threads: every image lands at the place its path order gives it.
    ///
    /// `stopRequested` is asked before each image is converted and after the scan; when it answers true
    /// the preparation ends with `DatasetError.stopped` and leaves no file behind.
    @discardableResult
    public static func prepare(
        folder: String, resolution: Int? = nil, maxImages: Int? = nil, output: String,
        progress: PreparationProgress? = nil, stopRequested: () -> Bool = { false }
    ) throws -> PreparationReport {
        if let resolution, !DatasetLayout.isValid(resolution: resolution) {
            throw DatasetError.invalidResolution(resolution)
        }
        let listing = try FolderListing(folder: folder)
        let files = Array(listing.files.prefix(maxImages ?? .max))
        guard !files.isEmpty else { throw DatasetError.noImageFiles(folder: folder) }
        let folderBytes = Array(folder.utf8)
        let scans = parallelMap(files, phase: "scanning", progress: progress) { file in
            Result { () throws(ImageError) in
                try Scan(file.fileSystemPath(in: folderBytes), displayPath: "\(folder)/\(file.displayPath)")
            }
        }
        if stopRequested() { throw DatasetError.stopped(output: output) }
        var usable: [(file: SourceFile, scan: Scan)] = []
        var skipped = listing.skipped
        for (file, scan) in zip(files, scans) {
            switch scan {
            case .success(let scan): usable.append((file, scan))
            case .failure(let error): skipped.append(SkippedImage(file: file.displayPath, error: error))
            }
        }
        skipped.sort { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
        guard !usable.isEmpty else {
            throw DatasetError.noUsableImages(folder: folder, found: files.count, skipped: skipped.count)
        }
        let classes = try ClassAssignment(files: usable.map(\.file), folder: folder)
        let sources = usable.map {
            SourceRecord(
                path: $0.file.displayPath, size: $0.scan.size, crc32c: String(format: "%08x", $0.scan.crc32c))
        }
        // Sorted keys: the encoder's order otherwise follows each process's hash seed, and the file must
        // be the same bytes from any run.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let sourcesJSON = Array(try encoder.encode(sources))
        let layout = DatasetLayout(
            resolution: resolution ?? defaultResolution(sides: usable.map { min($0.scan.width, $0.scan.height) }),
            count: usable.count, chunkSize: DatasetLayout.defaultChunkSize, classCount: classes.names.count,
            classNamesSize: try DatasetHeader.encodedClassNames(classes.names).count, sourcesSize: sourcesJSON.count)
        var identity: UInt64 = 0
        // Decoding happens inside the write, after the temporary file exists,
        // so an unwritable output fails before the slow part rather than after.
        try AtomicFile.write(to: output) { temporaryPath in
            let file = try MappedFile(resizing: temporaryPath, to: layout.fileSize)
            let writer = DatasetWriter(layout: layout, bytes: file.bytes)
            try withExtendedLifetime(file) {
                writer.store(labels: classes.labels)
                writer.store(sourcesJSON, in: .sources)
                let failures = parallelMap(Array(usable.enumerated()), phase: "converting", progress: progress) {
                    index, image in
                    Result { () throws(DatasetError) in
                        if stopRequested() { throw .stopped(output: output) }
                        try writer.storeLevels(
                            of: image.file.fileSystemPath(in: folderBytes),
                            displayPath: "\(folder)/\(image.file.displayPath)", scan: image.scan, as: index)
                    }
                }
                if stopRequested() { throw DatasetError.stopped(output: output) }
                for case .failure(let error) in failures { throw error }
                identity = try writer.finish(classNames: classes.names)
            }
        }
        let sizeCounts = Dictionary(usable.map { ([$0.scan.width, $0.scan.height], 1) }, uniquingKeysWith: +)
        let classCounts = Dictionary(classes.labels.map { ($0, 1) }, uniquingKeysWith: +)
        return PreparationReport(
            folder: folder, output: output, fileSize: layout.fileSize, resolution: layout.resolution,
            levels: layout.levels, filesFound: files.count + listing.skipped.count, imagesUsed: usable.count,
            skipped: skipped,
            sizes:
                sizeCounts
                .map { SizeCount(width: $0.key[0], height: $0.key[1], count: $0.value) }
                .sorted { ($1.count, $0.width, $0.height) < ($0.count, $1.width, $1.height) },
            classes: classes.names.enumerated().map { ClassCount(name: $1, count: classCounts[$0] ?? 0) },
            identity: DatasetHeader.hex(identity))
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
}

/// What the first pass learns of a usable source file.
struct Scan: Sendable {
    let width: Int
    let height: Int
    let size: Int
    let crc32c: UInt32

    init(_ path: [CChar], displayPath: String) throws(ImageError) {
        let bytes = try ImageFile.read(path: path, displayPath: displayPath)
        let image = try RGBImage.decode(bytes, displayPath: displayPath)
        width = image.width
        height = image.height
        size = bytes.count
        crc32c = bytes.withUnsafeBytes { ChunkChecksum.of($0) }
    }
}

/// `transform` applied to every element on all cores, results in the elements' order, reporting
/// progress about once a second.
func parallelMap<Element, Output>(
    _ elements: [Element], phase: String, progress: PreparationProgress?, _ transform: (Element) -> Output
) -> [Output] {
    let results = UnsafeMutableBufferPointer<Output?>.allocate(capacity: elements.count)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    let counter = ProgressCounter(total: elements.count, phase: phase, progress: progress)
    // Each index writes its own slot, so the slots need no lock.
    DispatchQueue.concurrentPerform(iterations: elements.count) { index in
        results[index] = transform(elements[index])
        counter.advance()
    }
    return results.map { $0! }
}

private final class ProgressCounter: @unchecked Sendable {
    private let total: Int
    private let phase: String
    private let progress: PreparationProgress?
    private var done = 0
    private var lastReport = DispatchTime.now().uptimeNanoseconds
    private let lock = NSLock()

    init(total: Int, phase: String, progress: PreparationProgress?) {
        (self.total, self.phase, self.progress) = (total, phase, progress)
    }

    func advance() {
        guard let progress else { return }
        lock.lock()
        defer { lock.unlock() }
        done += 1
        let now = DispatchTime.now().uptimeNanoseconds
        if now - lastReport >= 1_000_000_000 || done == total {
            lastReport = now
            progress(phase, done, total)
        }
    }
}
