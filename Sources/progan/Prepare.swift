import ArgumentParser
import Dataset
import Foundation

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Convert a folder of PNG images into a prepared dataset file for training.",
        discussion: """
            Reads every *.png directly in the folder (not subfolders) in file-name order, composites transparency \
            onto white, centre-crops to a square, area-resizes to the resolution and stores every level down \
            to 4x4. Unreadable images are skipped and listed. The output is replaced atomically. A stop \
            signal (see train) leaves no file behind and exits with status 75.
            """)

    @Argument(help: ArgumentHelp("Folder of PNG images.", valueName: "dir"))
    var folder: String

    @Option(help: ArgumentHelp("Dataset file to write (conventionally NAME.pgds).", valueName: "file"))
    var out: String

    @Option(
        help: ArgumentHelp(
            "Side in pixels, a power of two from 4 to 1024 (default: the largest power of two not above the median "
                + "image side).",
            valueName: "n"))
    var resolution: Int?

    func validate() throws { try checkOutputPath(out, "--out") }

    func run() throws {
        // Before the temporary file exists: a signal then removes it instead of leaving it behind.
        do { try StopRequests.install() } catch { fail(error) }
        let start = DispatchTime.now().uptimeNanoseconds
        let report: PreparationReport
        do {
            report = try PreparedDataset.prepare(
                folder: folder, resolution: resolution, output: out, stopRequested: { StopRequests.requested })
        } catch DatasetError.stopped {
            print("\(out): preparation stopped on request (\(StopRequests.signalName)); nothing written")
            Foundation.exit(ExitStatus.stoppedOnRequest)
        }
        describe(report, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9).forEach { print($0) }
        warnSkipped(report)
    }
}

/// What a preparation did, as lines for the terminal: the counts and the sizes seen.
func describe(_ report: PreparationReport, seconds: Double) -> [String] {
    let side = report.resolution
    return [
        "prepared \(report.imagesUsed) of \(report.filesFound) images at \(side)x\(side) "
            + "(levels \(report.levels.first!)..\(side)) into \(report.output) "
            + "(\(formatted(Double(report.fileSize) / 1e6, 2)) MB) in \(formatted(seconds, 2)) s",
        "sizes: " + report.sizes.map { "\($0.width)x\($0.height): \($0.count)" }.joined(separator: ", "),
    ]
}

/// Every file a preparation skipped, as warnings.
func warnSkipped(_ report: PreparationReport) {
    for skipped in report.skipped { warn("skipped \(skipped.error)") }
}
