import ArgumentParser
import Dataset
import Distributed
import Foundation

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Convert a folder of PNG and JPEG images into a prepared dataset file for training.",
        discussion: """
            Reads every *.png, *.jpg and *.jpeg in the folder and its subfolders, sorted by the bytes of their \
            relative paths (the same order on every machine), on all cores. Composites transparency onto white, \
            centre-crops to a square, area-resizes to the resolution (averaging when shrinking; a smaller image \
            is enlarged by repeating pixels) and stores every level down to 4x4. JPEG EXIF orientation is \
            ignored, as in dataset_tool.py. Labels: from labels.json in the folder ({"labels": [["a/b.png", \
            "class"], ...]}) or else the first folder level. Files that are not regular files or cannot be \
            decoded are skipped with their reason on stderr. The output is replaced atomically. A stop signal \
            (see train) leaves no file behind and exits with status 75.
            """)

    @Argument(help: ArgumentHelp("Folder of PNG and JPEG images.", valueName: "dir"))
    var folder: String?

    @Option(
        help: ArgumentHelp(
            "Instead of a folder: convert this prepared dataset (format version 1) to the current format, "
                + "keeping its pixels, labels and identity.",
            valueName: "file"))
    var upgrade: String?

    @Option(help: ArgumentHelp("Dataset file to write (conventionally NAME.pgds).", valueName: "file"))
    var out: String

    @Option(
        help: ArgumentHelp(
            "Side in pixels, a power of two from 4 to 1024 (default: the largest power of two not above the median "
                + "image side).",
            valueName: "n"))
    var resolution: Int?

    @Option(help: ArgumentHelp("Use only the first n image files in path order.", valueName: "n"))
    var maxImages: Int?

    func validate() throws {
        try checkOutputPath(out, "--out")
        guard (folder == nil) != (upgrade == nil) else {
            throw ValidationError(
                "give either an image folder or --upgrade DATASET, not \(folder == nil ? "neither" : "both")")
        }
        if upgrade != nil, resolution != nil || maxImages != nil {
            throw ValidationError(
                "--upgrade keeps the dataset's images and resolution: drop --resolution and --max-images")
        }
        if let maxImages, maxImages < 1 {
            throw ValidationError("--max-images must be at least 1, got \(maxImages)")
        }
    }

    /// Under mpirun every rank reads and decodes a share of the files on all its threads and rank 0 writes
    /// the file, so only rank 0 needs to see the output path (every rank must see the image folder).
    /// OpenMPI binds each of up to 2 ranks to one core by default; with more cores than ranks, run it with
    /// --bind-to none so each rank's threads can use them.
    func run() throws {
        // Before the temporary file exists: a signal then removes it instead of leaving it behind.
        do { try StopRequests.install() } catch { fail(error) }
        let world = joinWorld()
        do {
            let start = DispatchTime.now().uptimeNanoseconds
            if let upgrade {
                if world.rank == 0 { try upgradeDataset(upgrade, since: start) }
                return try world.finalize()
            }
            let group = PreparationGroup(rank: world.rank, size: world.size) { try world.allgather(unevenBytes: $0) }
            let report: PreparationReport?
            do {
                report = try PreparedDataset.prepare(
                    folder: folder!, resolution: resolution, maxImages: maxImages, output: out, group: group,
                    progress: world.rank == 0 ? progressLine(since: start) : nil,
                    stopRequested: { StopRequests.requested })
            } catch DatasetError.stopped {
                if world.rank == 0 {
                    print("\(out): preparation stopped on request (\(StopRequests.signalName)); nothing written")
                }
                try world.finalize()
                Foundation.exit(ExitStatus.stoppedOnRequest)
            } catch DatasetError.reportedByRankZero {
                // Rank 0 ends the job with the message.
                try world.finalize()
                Foundation.exit(1)
            }
            if let report {
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                describe(report, seconds: seconds, ranks: world.size).forEach { print($0) }
                warnSkipped(report)
            }
            try world.finalize()
        } catch {
            world.endJob(error)
        }
    }

    private func upgradeDataset(_ path: String, since start: UInt64) throws {
        let dataset = try PreparedDataset(path: path)
        let size = try dataset.upgrade(to: out)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(
            "upgraded \(path) (format version \(dataset.formatVersion)) to \(out) (version 2, "
                + "\(formatted(Double(size) / 1e6, 2)) MB) in \(formatted(seconds, 2)) s: \(dataset.count) images at "
                + "\(dataset.resolution)x\(dataset.resolution); identity \(dataset.identity)")
    }
}

/// The note for a dataset in the old format, which is read and checked whole at every start.
func legacyFormatNote(_ dataset: PreparedDataset) -> String? {
    guard dataset.formatVersion == 1 else { return nil }
    return "\(dataset.path): dataset format version 1, read and checked whole at every start; "
        + "progan prepare --upgrade \(dataset.path) --out NEW.pgds converts it"
}

/// A progress line on stderr, rewritten in place on a terminal: phase, images done and the rate.
func progressLine(since start: UInt64) -> PreparationProgress {
    let terminal = isatty(STDERR_FILENO) != 0
    return { phase, done, total in
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let line = "\(phase) \(done)/\(total) images, \(formatted(Double(done) / max(seconds, 1e-9), 1)) images/s"
        FileHandle.standardError.write(Data((terminal ? "\r\(line)\u{1B}[K" : line + "\n").utf8))
        if terminal && done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// What a preparation did, as lines for the terminal: the counts, the sizes seen, the classes.
func describe(_ report: PreparationReport, seconds: Double, ranks: Int) -> [String] {
    let side = report.resolution
    return [
        "prepared \(report.imagesUsed) of \(report.filesFound) images at \(side)x\(side) "
            + "(levels \(report.levels.first!)..\(side)) into \(report.output) "
            + "(\(formatted(Double(report.fileSize) / 1e6, 2)) MB) in \(formatted(seconds, 2)) s "
            + "(\(formatted(Double(report.imagesUsed) / max(seconds, 1e-9), 1)) images/s on \(ranks) "
            + "rank\(ranks == 1 ? "" : "s")); identity \(report.identity)",
        "sizes: " + report.sizes.map { "\($0.width)x\($0.height): \($0.count)" }.joined(separator: ", "),
    ]
        + (report.classes.isEmpty
            ? [] : ["classes: " + report.classes.map { "\($0.name): \($0.count)" }.joined(separator: ", ")])
}

/// Every file a preparation skipped, as warnings.
func warnSkipped(_ report: PreparationReport) {
    for skipped in report.skipped { warn("skipped \(skipped.error)") }
}
