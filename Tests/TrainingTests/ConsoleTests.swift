import Training
import XCTest

final class ConsoleTests: XCTestCase {
    func testTerminalRedrawsOneStatusLineAndKeepsItAboveMessages() {
        var output = ""
        let console = Console(isTerminal: true) { output += $0 }
        console.status("step 1")
        console.tick("tick 1")
        console.line("done")
        XCTAssertEqual(output, "\rstep 1\u{1B}[K\rtick 1\u{1B}[K\ndone\n")
    }

    func testStatusIsCutToTheTerminalWidth() {
        var output = ""
        let console = Console(isTerminal: true, columns: { 8 }) { output += $0 }
        console.status("tick 1  kimg 0.10/1.20")
        XCTAssertEqual(output, "\rtick 1 \u{1B}[K")
    }

    func testPlainOutputHasOneLinePerTickAndNoStatus() {
        var output = ""
        let console = Console(isTerminal: false) { output += $0 }
        console.status("step 1")
        console.tick("tick 1")
        console.line("done")
        XCTAssertEqual(output, "tick 1\ndone\n")
    }
}
