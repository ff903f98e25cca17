import Dispatch
import Foundation
import ImageIO

/// Where a set of candidate images goes in a dataset file: its layout, classes and source list.
struct DatasetPlan {
    let candidates: [Candidate]
    let classes: ClassAssignment
    let sourcesJSON: [UInt8]
    let layout: DatasetLayout

    init(_ candidates: [Candidate], folder: String, resolution: Int) throws {
        self.candidates = candidates
        classes = try ClassAssignment(files: candidates.map(\.file), folder: folder)
        sourcesJSON = try SourceRecord.encodedList(
            candidates.map {
                SourceRecord(
                    path: $0.file.displayPath, size: $0.scan.size, crc32c: String(format: "%08x", $0.scan.crc32c))
            })
        layout = DatasetLayout(
            resolution: resolution, count: candidates.count, chunkSize: DatasetLayout.defaultChunkSize,
            classCount: classes.names.count, classNamesSize: try DatasetHeader.encodedClassNames(classes.names).count,
            sourcesSize: sourcesJSON.count)
    }
}

/// The second pass of a preparation: each candidate read again, checked against its scan, decoded once
/// and stored at every level in the place its index gives it.
///
/// The candidates go in rounds. In each, every rank of the group converts its share of the round's images
/// on all its threads, then the ranks exchange what they did: rank 0 converts straight into the file and
/// copies the others' pixels there; every rank learns every failure, so all of them agree on what comes
/// next. A round holds at most `roundBytes` of pixels per rank, so memory does not grow with the dataset.
struct Conversion {
    let folder: String
    let plan: DatasetPlan
    let group: PreparationGroup
    let output: String
    let progress: PreparationProgress?
    let stopRequested: @Sendable () -> Bool

    static let roundBytes = 32 << 20
    /// At most this many images per rank and round, so that the progress line moves about once a second.
    static let roundImages = 256

    /// Bytes of one image at every level.
    private var imageBytes: Int { plan.layout.levels.reduce(0) { $0 + DatasetLayout.channels * $1 * $1 } }

    /// Where level `side` starts within an image's bytes in a round's exchange: smallest level first.
    private func offsetInImage(_ side: Int) -> Int {
        plan.layout.levels.prefix { $0 < side }.reduce(0) { $0 + DatasetLayout.channels * $1 * $1 }
    }

    /// Converts every candidate: into `file` (mapped at the plan's size) on rank 0, nil on the others.
    /// Returns the candidates whose pixels could not be decoded, by index; every rank throws the same error
    /// in the same round when a rank was asked to stop or a file changed since the scan.
    func run(into file: UnsafeMutableRawBufferPointer?) throws -> [Int: ImageError] {
        let count = plan.candidates.count
        let perRank =
            group.imagesPerRound
            ?? max(ProcessInfo.processInfo.activeProcessorCount, min(Self.roundImages, Self.roundBytes / imageBytes))
        var rejected: [Int: ImageError] = [:]
        for start in stride(from: 0, to: count, by: perRank * group.size) {
            let round = start..<min(start + perRank * group.size, count)
            let packets = try group.allgather(convert(group.share(of: round, rank: group.rank), into: file))
            for (rank, packet) in packets.enumerated() {
                try receive(packet, images: group.share(of: round, rank: rank), fromRoot: rank == 0, into: file) {
                    rejected[$0] = $1
                }
            }
            if group.rank == 0 { progress?("converting", round.upperBound, count) }
        }
        return rejected
    }

    /// This rank's part of a round: the pixels of `images` (none on rank 0, which stores them itself),
    /// then a JSON RoundReport.
    private func convert(_ images: Range<Int>, into file: UnsafeMutableRawBufferPointer?) throws -> [UInt8] {
        let size = imageBytes
        var packet = [UInt8](repeating: 0, count: file == nil ? images.count * size : 0)
        let failures = UnsafeMutableBufferPointer<RoundFailure?>.allocate(capacity: images.count)
        failures.initialize(repeating: nil)
        defer { failures.deallocate() }
        // A stop request is looked for before each image; the ones after it are left undone.
        let stopSeen = UnsafeMutableBufferPointer<Bool>.allocate(capacity: images.count)
        stopSeen.initialize(repeating: false)
        defer { stopSeen.deallocate() }
        packet.withUnsafeMutableBytes { area in
            DispatchQueue.concurrentPerform(iterations: images.count) { position in
                if stopRequested() {
                    stopSeen[position] = true
                    return
                }
                let index = images.lowerBound + position
                let stored = Result { () throws(RoundFailure) in
                    try store(plan.candidates[index]) { side in
                        if let file { return file.baseAddress! + plan.layout.imageOffset(index, resolution: side) }
                        return area.baseAddress! + position * size + offsetInImage(side)
                    }
                }
                if case .failure(let failure) = stored { failures[position] = failure }
            }
        }
        let report = RoundReport(
            stop: stopSeen.contains(true) || stopRequested(),
            failures: failures.enumerated().compactMap { position, failure in
                failure.map { RoundReport.Entry(position: position, failure: $0) }
            })
        packet.append(contentsOf: try JSONEncoder().encode(report))
        return packet
    }

    /// Acts on one rank's part of a round: stops, fails, records rejected images, and on rank 0 stores
    /// the pixels of another rank's images.
    private func receive(
        _ packet: [UInt8], images: Range<Int>, fromRoot: Bool, into file: UnsafeMutableRawBufferPointer?,
        reject: (Int, ImageError) -> Void
    ) throws {
        let size = imageBytes
        let pixelBytes = fromRoot ? 0 : images.count * size
        let report = try JSONDecoder().decode(RoundReport.self, from: Data(packet.dropFirst(pixelBytes)))
        if report.stop { throw DatasetError.stopped(output: output) }
        var failed = Set<Int>()
        for entry in report.failures {
            if entry.failure.changed { throw DatasetError.imageChanged(entry.failure.error) }
            reject(images.lowerBound + entry.position, entry.failure.error)
            failed.insert(entry.position)
        }
        guard let file, !fromRoot else { return }
        packet.withUnsafeBytes { bytes in
            for position in 0..<images.count where !failed.contains(position) {
                for side in plan.layout.levels {
                    let start = position * size + offsetInImage(side)
                    (file.baseAddress! + plan.layout.imageOffset(images.lowerBound + position, resolution: side))
                        .copyMemory(from: bytes.baseAddress! + start, byteCount: DatasetLayout.channels * side * side)
                }
            }
        }
    }

    /// Decodes `candidate` once and writes each level, made from the one above, to `destination(side)`,
    /// after checking that the file is still the one the scan saw.
    private func store(
        _ candidate: Candidate, to destination: (Int) -> UnsafeMutableRawPointer
    ) throws(RoundFailure) {
        let displayPath = "\(folder)/\(candidate.file.displayPath)"
        let content: [UInt8]
        do {
            content = try ImageFile.read(
                path: candidate.file.fileSystemPath(in: Array(folder.utf8)), displayPath: displayPath)
        } catch {
            throw RoundFailure(error: error, changed: true)
        }
        guard content.count == candidate.scan.size,
            content.withUnsafeBytes({ ChunkChecksum.of($0) }) == candidate.scan.crc32c
        else {
            throw RoundFailure(
                error: .cannotOpen(path: displayPath, reason: "its content differs from the first pass"), changed: true)
        }
        var level: RGBImage
        do {
            level = try RGBImage.decode(content, displayPath: displayPath).centreCropped()
        } catch {
            throw RoundFailure(error: error, changed: false)
        }
        for side in plan.layout.levels.reversed() {
            level = level.areaResized(toSide: side)
            level.copyPlanes(to: destination(side))
        }
    }

    /// The plan without the `rejected` candidates, their images removed from the file laid out by this
    /// conversion's plan: every kept image moves to its new place, level by level and smallest first.
    /// A plan of fewer images puts every region at or before its old offset, so each move goes to lower
    /// addresses and never overwrites an image still to be moved.
    func compacted(_ file: UnsafeMutableRawBufferPointer, without rejected: Set<Int>) throws -> DatasetPlan {
        guard !rejected.isEmpty else { return plan }
        let kept = plan.candidates.indices.filter { !rejected.contains($0) }
        let smaller = try DatasetPlan(
            kept.map { plan.candidates[$0] }, folder: folder, resolution: plan.layout.resolution)
        for side in plan.layout.levels {
            for (newIndex, oldIndex) in kept.enumerated() {
                memmove(
                    file.baseAddress! + smaller.layout.imageOffset(newIndex, resolution: side),
                    file.baseAddress! + plan.layout.imageOffset(oldIndex, resolution: side),
                    DatasetLayout.channels * side * side)
            }
        }
        // Clear what the moves left between the new regions, so the file is the one a folder without
        // the rejected images gives.
        var end = smaller.layout.chunkTableOffset + 4 * smaller.layout.totalChunks
        for region in smaller.layout.regions {
            let start = smaller.layout.placement(of: region).offset
            memset(file.baseAddress! + end, 0, start - end)
            end = start + smaller.layout.size(of: region)
        }
        return smaller
    }
}

/// Why one image of a round was not stored: unreadable pixels (`changed` false: the image is skipped) or
/// a file that is not the one the scan saw (the preparation fails).
struct RoundFailure: Error, Codable {
    let error: ImageError
    let changed: Bool
}

/// What a rank says about its part of a round.
private struct RoundReport: Codable {
    struct Entry: Codable {
        let position: Int
        let failure: RoundFailure
    }

    let stop: Bool
    let failures: [Entry]
}
