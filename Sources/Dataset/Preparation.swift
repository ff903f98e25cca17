import Dispatch
import Foundation
import ImageIO
import SafeIO
import Glibc

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

/// The processes that prepare one dataset together: under `mpirun -np N progan prepare`, each rank reads
/// and decodes a share of the files and rank 0 writes the file; alone, one process does everything.
public struct PreparationGroup: Sendable {
    public let rank: Int
    public let size: Int
    /// Every rank's bytes, in rank order: a collective that every rank calls in the same order.
    public let allgather: @Sendable (_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Images each rank converts between two exchanges; nil: as many as fit `Conversion.roundBytes`.
    public let imagesPerRound: Int?

    public init(
        rank: Int, size: Int, imagesPerRound: Int? = nil,
        allgather: @escaping @Sendable (_ bytes: [UInt8]) throws -> [[UInt8]]
    ) {
        (self.rank, self.size, self.imagesPerRound, self.allgather) = (rank, size, imagesPerRound, allgather)
    }

    public static let alone = PreparationGroup(rank: 0, size: 1) { [$0] }

    /// Rank `rank`'s contiguous share of `range`, the first ranks taking one more when it does not divide.
    func share(of range: Range<Int>, rank: Int) -> Range<Int> {
        let base = range.count / size, extra = range.count % size
        let start = range.lowerBound + rank * base + min(rank, extra)
        return start..<start + base + (rank < extra ? 1 : 0)
    }
}

extension PreparedDataset {
    /// Writes every readable PNG and JPEG under `folder` (see FolderListing: recursive, sorted by path
    /// bytes; the first `maxImages` files only, as dataset_tool.py's --max-images) to a dataset file at
    /// `output`, replacing it atomically. Labels come from ClassAssignment. Each image is centre-cropped to
    /// a square, area-resized to `resolution` (see RGBImage.areaResized: averaging when shrinking; an image
    /// smaller than the target is enlarged by the same rule, each source pixel becoming a block, never
    /// interpolated) and halved down to 4x4; unreadable images are skipped and reported. Without a
    /// `resolution`, the largest power of two not above the median side of the cropped images whose
    /// headers read (clamped to 4...1024) is used.
    ///
    /// Each image is decoded once: a first pass reads every file's header (its size, and whether it is an
    /// image at all), then each is decoded and converted into the place its path order gives it (see
    /// Conversion), so memory holds one image per thread plus a round's worth, however large the dataset.
    /// The files are split over the ranks of `group` and the threads of each; the output does not depend on
    /// either number. Returns the report on rank 0 and nil on the others.
    ///
    /// `stopRequested` is asked before each image is converted and after the scan, on every rank; when it
    /// answers true on any, the preparation ends on all with `DatasetError.stopped` and leaves no file behind.
    @discardableResult
    public static func prepare(
        folder: String, resolution: Int? = nil, maxImages: Int? = nil, output: String,
        group: PreparationGroup = .alone, progress: PreparationProgress? = nil,
        stopRequested: @escaping @Sendable () -> Bool = { false }
    ) throws -> PreparationReport? {
        if let resolution, !DatasetLayout.isValid(resolution: resolution) {
            throw DatasetError.invalidResolution(resolution)
        }
        let listing = try FolderListing(folder: folder)
        let files = Array(listing.files.prefix(maxImages ?? .max))
        guard !files.isEmpty else { throw DatasetError.noImageFiles(folder: folder) }
        let folderBytes = Array(folder.utf8)
        let mine = Array(files[group.share(of: files.indices, rank: group.rank)])
        let myScans = parallelMap(mine, phase: "scanning", progress: group.rank == 0 ? progress : nil) { file in
            let scan = Result { () throws(ImageError) in
                try Scan(file.fileSystemPath(in: folderBytes), displayPath: "\(folder)/\(file.displayPath)")
            }
            switch scan {
            case .success(let scan): return ScanOutcome.usable(scan)
            case .failure(let error): return ScanOutcome.unreadable(error)
            }
        }
        let shares = try group.allgather(Array(JSONEncoder().encode(ScanShare(scans: myScans, stop: stopRequested()))))
        let scans = try shares.map { try JSONDecoder().decode(ScanShare.self, from: Data($0)) }
        if scans.contains(where: { $0.stop }) { throw DatasetError.stopped(output: output) }
        do {
            return try write(
                scans.flatMap { $0.scans }, of: files, listing: listing, resolution: resolution, output: output,
                group: group, progress: progress, stopRequested: stopRequested)
        } catch let error as DatasetError where group.rank != 0 && error != .stopped(output: output) {
            // Every rank saw it, from the same scans and rounds: rank 0 tells it, once.
            throw DatasetError.reportedByRankZero
        }
    }

    /// The rest of `prepare` once every rank knows every scan.
    private static func write(
        _ scans: [ScanOutcome], of files: [SourceFile], listing: FolderListing, resolution: Int?, output: String,
        group: PreparationGroup, progress: PreparationProgress?, stopRequested: @escaping @Sendable () -> Bool
    ) throws -> PreparationReport? {
        let folder = listing.folder
        var candidates: [Candidate] = []
        var skipped = listing.skipped
        for (file, scan) in zip(files, scans) {
            switch scan {
            case .usable(let scan): candidates.append(Candidate(file: file, scan: scan))
            case .unreadable(let error): skipped.append(SkippedImage(file: file.displayPath, error: error))
            }
        }
        guard !candidates.isEmpty else {
            throw DatasetError.noUsableImages(folder: folder, found: files.count, skipped: skipped.count)
        }
        let side = resolution ?? defaultResolution(sides: candidates.map { min($0.scan.width, $0.scan.height) })
        let conversion = Conversion(
            folder: folder, plan: try DatasetPlan(candidates, folder: folder, resolution: side), group: group,
            output: output, progress: progress, stopRequested: stopRequested)
        guard group.rank == 0 else {
            _ = try conversion.run(into: nil)
            return nil
        }
        var plan = conversion.plan
        var identity: UInt64 = 0
        // Decoding happens inside the write, after the temporary file exists,
        // so an unwritable output fails before the slow part rather than after.
        try AtomicFile.write(to: output) { temporaryPath in
            let file = try MappedFile(resizing: temporaryPath, to: plan.layout.fileSize)
            try withExtendedLifetime(file) {
                let rejected = try conversion.run(into: file.bytes)
                for (index, error) in rejected {
                    skipped.append(SkippedImage(file: candidates[index].file.displayPath, error: error))
                }
                guard rejected.count < candidates.count else {
                    throw DatasetError.noUsableImages(folder: folder, found: files.count, skipped: skipped.count)
                }
                plan = try conversion.compacted(file.bytes, without: Set(rejected.keys))
                let writer = DatasetWriter(layout: plan.layout, bytes: file.bytes)
                writer.store(labels: plan.classes.labels)
                writer.store(plan.sourcesJSON, in: .sources)
                identity = try writer.finish(classNames: plan.classes.names)
            }
            // Images skipped while converting leave a shorter file; nothing touches the cut tail of the mapping.
            if plan.layout.fileSize < conversion.plan.layout.fileSize {
                guard truncate(temporaryPath, off_t(plan.layout.fileSize)) == 0 else {
                    throw FileError.fromErrno(path: temporaryPath, action: "cannot shorten")
                }
            }
        }
        skipped.sort { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
        let used = plan.candidates
        let sizeCounts = Dictionary(used.map { ([$0.scan.width, $0.scan.height], 1) }, uniquingKeysWith: +)
        let classCounts = Dictionary(plan.classes.labels.map { ($0, 1) }, uniquingKeysWith: +)
        return PreparationReport(
            folder: folder, output: output, fileSize: plan.layout.fileSize, resolution: plan.layout.resolution,
            levels: plan.layout.levels, filesFound: files.count + listing.skipped.count, imagesUsed: used.count,
            skipped: skipped,
            sizes:
                sizeCounts
                .map { SizeCount(width: $0.key[0], height: $0.key[1], count: $0.value) }
                .sorted { ($1.count, $0.width, $0.height) < ($0.count, $1.width, $1.height) },
            classes: plan.classes.names.enumerated().map { ClassCount(name: $1, count: classCounts[$0] ?? 0) },
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

/// What the first pass learns of a source file from its bytes and header, without decoding its pixels.
struct Scan: Codable, Sendable {
    let width: Int
    let height: Int
    let size: Int
    let crc32c: UInt32

    init(_ path: [CChar], displayPath: String) throws(ImageError) {
        let bytes = try ImageFile.read(path: path, displayPath: displayPath)
        (width, height) = try RGBImage.size(of: bytes, displayPath: displayPath)
        size = bytes.count
        crc32c = bytes.withUnsafeBytes { ChunkChecksum.of($0) }
    }
}

enum ScanOutcome: Codable, Sendable {
    case usable(Scan)
    case unreadable(ImageError)
}

/// One rank's scans, and whether it was asked to stop.
private struct ScanShare: Codable {
    let scans: [ScanOutcome]
    let stop: Bool
}

struct Candidate: Sendable {
    let file: SourceFile
    let scan: Scan
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
