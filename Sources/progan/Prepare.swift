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
    var folder: String

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
        if let maxImages, maxImages < 1 {
            throw ValidationError("--max-images must be at least 1, got \(maxImages)")
        }
    }

    /// Under mpirun, rank 0 prepares on all its cores while the others go straight to MPI_Finalize, whose
    /// wait sleeps (a barrier would spin and take a core from the decoding): the ranks of one machine would
    /// only compete for the same cores, and ranks elsewhere may not see the output path. (OpenMPI binds
    /// each of up to 2 ranks to one core by default: run it with --bind-to none to give rank 0 them all.)
    func run() throws {
        // Before the temporary file exists: a signal then removes it instead of leaving it behind.
        do { try StopRequests.install() } catch { fail(error) }
        let world = joinWorld()
        do {
            if world.rank == 0 {
                let start = DispatchTime.now().uptimeNanoseconds
                let report: PreparationReport
                do {
                    report = try PreparedDataset.prepare(
                        folder: folder, resolution: resolution, maxImages: maxImages, output: out,
                        progress: progressLine(since: start), stopRequested: { StopRequests.requested })
                } catch DatasetError.stopped {
                    print("\(out): preparation stopped on request (\(StopRequests.signalName)); nothing written")
                    try world.finalize()
                    Foundation.exit(ExitStatus.stoppedOnRequest)
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                describe(report, seconds: seconds).forEach { print($0) }
                warnSkipped(report)
            }
            try world.finalize()
        } catch {
            world.endJob(error)
        }
    }
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
func describe(_ report: PreparationReport, seconds: Double) -> [String] {
    let side = report.resolution
    return [
        "prepared \(report.imagesUsed) of \(report.filesFound) images at \(side)x\(side) "
            + "(levels \(report.levels.first!)..\(side)) into \(report.output) "
            + "(\(formatted(Double(report.fileSize) / 1e6, 2)) MB) in \(formatted(seconds, 2)) s "
            + "(\(formatted(Double(report.imagesUsed) / max(seconds, 1e-9), 1)) images/s); identity \(report.identity)",
        "sizes: " + report.sizes.map { "\($0.width)x\($0.height): \($0.count)" }.joined(separator: ", "),
    ]
        + (report.classes.isEmpty
            ? [] : ["classes: " + report.classes.map { "\($0.name): \($0.count)" }.joined(separator: ", ")])
}

/// Every file a preparation skipped, as warnings.
func warnSkipped(_ report: PreparationReport) {
    for skipped in report.skipped { warn("skipped \(skipped.error)") }
}
