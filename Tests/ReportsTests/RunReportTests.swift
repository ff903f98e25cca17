import Foundation
@testable import Reports
import Training
import XCTest

final class RunReportTests: XCTestCase {
    func testReportHasEveryPlotAndEveryGridInline() throws {
        let fixture = try RunFixture()
        let html = try RunReport(run: RunRecords(path: fixture.path)).html()
        // Plots: D/G loss, loss terms, SWD, MS-SSIM, alpha, speed; plus the phase strip.
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 7)
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
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 5)
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
