import Foundation
@testable import Reports
import Training
import XCTest

final class RunReportTests: XCTestCase {
    func testReportHasEveryPlotAndEveryGridInline() throws {
        let fixture = try RunFixture()
        let html = try RunReport(run: RunRecords(path: fixture.path)).html()
        // Plots: D/G loss, gradient penalty, SWD, MS-SSIM, alpha, speed, memory; plus the phase strip.
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 8)
        XCTAssertEqual(
            html.components(separatedBy: ">ms_ssim<").count - 1, 1,
            "MS-SSIM has a plot of its own, not among the loss terms")
        XCTAssert(html.contains(">swd_4<") && html.contains(">swd_8<") && html.contains(">swd_mean<"))
        XCTAssertFalse(html.contains("no SWD computed"))
        XCTAssertEqual(
            html.components(separatedBy: "stroke-dasharray=\"5 3\"").count - 1, 1,
            "swd_mean dashed, as it can hide a level")
        XCTAssert(html.contains(">8x8</text>"), "resolution change marker")
        // The last grids at 4x4 and at 8x8, then the final grid again, large.
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 3)
        XCTAssert(html.contains("4x4, stable, 0.20 kimg") && html.contains("8x8, stable, 0.40 kimg"))
        for external in ["src=\"http", "<link", "<script", "url("] { XCTAssertFalse(html.contains(external), external) }
    }

    func testReportWithoutSWDSaysSo() throws {
        let fixture = try RunFixture(swd: false)
        let html = try RunReport(run: RunRecords(path: fixture.path)).html()
        XCTAssert(html.contains("no SWD computed"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 6)
    }

    func testEachPlotShowsQuantitiesOfOneKind() throws {
        let fixture = try RunFixture()
        let html = try RunReport(run: RunRecords(path: fixture.path)).html()
        let plots = html.components(separatedBy: "<svg").dropFirst()
        func plot(showing series: String) -> [String] { plots.filter { $0.contains(">\(series)</text>") } }
        func seriesCount(_ plot: String) -> Int { plot.components(separatedBy: "width=\"10\" height=\"3\"").count - 1 }
        XCTAssertEqual(plot(showing: "gp").map(seriesCount), [1], "the penalty has a scale of its own")
        XCTAssertEqual(plot(showing: "d_loss").map(seriesCount), [2], "D and G loss together")
        XCTAssertEqual(plot(showing: "peak_rss_mib").map(seriesCount), [1], "memory alone, not among the losses")
    }

    func testTheETAIsCheckedAtTheFirstTickTrainedWhollyAtEachResolution() {
        // Ticks at 4, 4, 8, 8, 16, 16, 16 of 10 s each: tick 3 ends at 8x8 but trained mostly at 4x4.
        let resolutions = [4, 4, 8, 8, 16, 16, 16], estimates = [66.0, 50, 40, 27, 20, 10, 0]
        var ticks = resolutions.indices.map { index -> TickRecord in
            var record = RunFixture.record(tick: index + 1)
            record.resolution = resolutions[index]
            record.etaSeconds = estimates[index]
            record.wallSeconds = 10
            return record
        }
        let check = EstimateCheck(ticks: ticks)
        XCTAssertEqual(check.rows.map(\.tick), [1, 4, 6], "the last tick has no time left to check")
        XCTAssertEqual(check.rows.map(\.actualSeconds), [60, 30, 10])
        XCTAssertEqual(check.rows.map { ($0.error * 100).rounded() }, [10, -10, 0])
        XCTAssertEqual(check.lines[1].split(separator: " "), ["4x4", "1", "0.10", "1m06s", "1m00s", "+10%"])
        ticks[4].wallSeconds = nil
        XCTAssertEqual(
            EstimateCheck(ticks: ticks).rows.map(\.tick), [6], "an estimate is checked only against every later tick")
    }

    func testBadRunDirectoriesAreNamedErrors() throws {
        let fixture = try RunFixture(extraLines: ["{\"tick\": 5, \"kimg\": 0.5"])
        XCTAssertThrowsError(try RunRecords(path: fixture.path)) { error in
            XCTAssertEqual("\(error)", "\(fixture.path)/metrics.jsonl:5: not a JSON object")
        }
        XCTAssertThrowsError(try RunRecords(path: fixture.path + "/samples")) { error in
            XCTAssertEqual(
                "\(error)", "\(fixture.path)/samples: not a run directory (it needs config.json and metrics.jsonl)")
        }
        XCTAssertThrowsError(try RunRecords(path: fixture.path + "/nothing")) { error in
            XCTAssertEqual("\(error)", "\(fixture.path)/nothing: no such directory")
        }
        let withoutGrid = try RunFixture.record(tick: 5).jsonLine()
            .replacingOccurrences(of: #","grid":"samples\/tick-000005.png""#, with: "")
        let noGrid = try RunFixture(extraLines: [withoutGrid])
        XCTAssertThrowsError(try RunRecords(path: noGrid.path)) { error in
            XCTAssertEqual("\(error)", "\(noGrid.path)/metrics.jsonl:5: no 'grid'")
        }
    }

    func testFiguresNoRunWritesAreNamedErrors() throws {
        var cases: [(change: (inout TickRecord) -> Void, message: String)] = [
            ({ $0.alpha = 1.5 }, "alpha 1.5 is out of range (0.0 to 1.0)"),
            ({ $0.resolution = 12 }, "resolution 12 is not a power of two from 4 to 1024"),
            ({ $0.step = -1 }, "step -1 is out of range (0 to 1000000000000)"),
            ({ $0.minibatch = 0 }, "minibatch 0 is out of range (1 to 65536)"),
            ({ $0.tickSeconds = -2 }, "tick_seconds -2.0 is out of range (0.0 to 1000000000000.0)"),
            ({ $0.etaSeconds = 1e300 }, "eta_seconds 1e+300 is out of range (0.0 to 1000000000000.0)"),
        ]
        for grid in ["/etc/passwd", "samples/../../x.png", ""] {
            cases.append(({ $0.grid = grid }, "grid '\(grid)' is not a path inside the run directory"))
        }
        for (change, message) in cases {
            var record = RunFixture.record(tick: 5)
            change(&record)
            let fixture = try RunFixture(extraLines: [try record.jsonLine()])
            XCTAssertThrowsError(try RunRecords(path: fixture.path)) { error in
                XCTAssertEqual("\(error)", "\(fixture.path)/metrics.jsonl:5: \(message)")
            }
        }
    }

    func testResumingKeepsTheLinesItCannotReadAndDropsAnAppendCutShort() throws {
        let fixture = try RunFixture(extraLines: ["not json", try RunFixture.record(tick: 5).jsonLine()])
        let metrics = fixture.path + "/metrics.jsonl"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: metrics))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"tick": 6, "ste"#.utf8))
        try handle.close()
        try RunDirectory(fixture.path).truncateMetrics(afterStep: 3 * 12)
        let lines = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, "ticks 1 to 3 and the unreadable line: \(lines)")
        XCTAssertEqual(lines[3], "not json")
        XCTAssertEqual(try lines.prefix(3).map { try TickRecord.parse($0).tick }, [1, 2, 3])
    }

    func testPhasesRunFromTheFirstTickShowingThemToTheNextPhase() throws {
        let fixture = try RunFixture()
        let segments = try RunReport(run: RunRecords(path: fixture.path)).segments
        XCTAssertEqual(segments.map(\.resolution), [4, 8, 8])
        XCTAssertEqual(segments.map(\.fadeIn), [false, true, false])
        XCTAssertEqual(segments.map(\.kimg.lowerBound), [0, 0.3, 0.4])
        XCTAssertEqual(segments.map(\.kimg.upperBound), [0.3, 0.4, 0.4])
    }

    func testAxisTicksAreRoundAndInside() {
        XCTAssertEqual(LinePlot.ticks(0...1.2).map { ($0 * 10).rounded() }, [0, 2, 4, 6, 8, 10, 12])
        XCTAssertEqual(LinePlot.ticks(-3...7), [-2, 0, 2, 4, 6])
    }
}
