import ArgumentParser
import Foundation
import Reports
import SafeIO

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained HTML page about a run.",
        discussion: """
            Loss, gradient-penalty and SWD curves over kimg with the resolution changes marked, the fade-in \
            timeline, speed, the sample grid at the end of each resolution, the final grid and the \
            configuration; plots are inline SVG and images inline PNG, so the page needs no other file. \
            Works on a run in progress too.
            """)

    @Argument(help: ArgumentHelp("Run directory (the --out of progan train).", valueName: "run-dir"))
    var runDirectory: String
    @Option(help: ArgumentHelp("HTML file to write (default: RUN_DIR/report.html).", valueName: "file"))
    var out: String?

    func validate() throws {
        try checkOutputPath(out, "--out")
        if out == nil { try checkOutputPath(runDirectory, "run-dir") }
    }

    func run() throws {
        do {
            let records = try RunRecords(path: runDirectory)
            let path = out ?? records.directory.path + "/report.html"
            try AtomicFile.write(to: path, bytes: Array(try RunReport(run: records).html().utf8))
            print("wrote \(path) (\(records.ticks.count) ticks)")
        } catch { fail(error) }
    }
}
