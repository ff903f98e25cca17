import ArgumentParser
import XCTest
@testable import TrainingOptions

final class ResumeChoiceTests: XCTestCase {
    /// `--resume Auto` is the keyword in other letters, not a checkpoint that happens to be missing.
    func testKeywordInOtherLetterCaseSuggestsTheKeyword() {
        for (argument, keyword) in [("Auto", "auto"), ("NONE", "none")] {
            let choice = ResumeChoice(argument: argument)
            XCTAssertEqual(choice, .checkpoint(path: argument))
            XCTAssertThrowsError(try choice?.rejectMisspelledKeyword()) {
                XCTAssertTrue("\($0)".hasSuffix("did you mean --resume \(keyword)?"), "\($0)")
            }
        }
        XCTAssertNoThrow(try ResumeChoice(argument: "auto")?.rejectMisspelledKeyword())
        XCTAssertNoThrow(try ResumeChoice(argument: "runs/a/step.ckpt")?.rejectMisspelledKeyword())
    }
}
