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
    @Flag(
        name: .customLong("eta-check"),
        help: ArgumentHelp(
            "Also print how the progress line's ETA compared with the time the run then took, at the first tick "
                + "of each resolution (of a finished run)."))
    var etaCheck = false

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
            if etaCheck {
                let check = EstimateCheck(ticks: records.ticks)
                guard !check.rows.isEmpty else {
                    throw FileError(
                        path: records.directory.metricsPath,
                        problem: "no ETA to check (a finished run whose lines have eta_seconds and wall_seconds)")
                }
                check.lines.forEach { print($0) }
            }
        } catch { fail(error) }
    }
}
