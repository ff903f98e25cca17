import ArgumentParser
import XCTest
@testable import progan

final class RenamedOptionTests: XCTestCase {
    func testOldCheckpointAndCountSpellingsParseAsTheCurrentOnes() throws {
        for old in [["--checkpoint", "run.ckpt", "--count", "3"], ["--checkpoint=run.ckpt", "--count=3"]] {
            let (arguments, warnings) = RenamedOption.modernized(["generate"] + old + ["--out", "images"])
            XCTAssertEqual(
                warnings,
                [
                    "--checkpoint is deprecated; pass the checkpoint as an argument",
                    "--count is deprecated; use --images",
                ])
            let generate = try XCTUnwrap(try ProGAN.parseAsRoot(arguments) as? Generate)
            XCTAssertEqual(generate.checkpoint, "run.ckpt")
            XCTAssertEqual(generate.images, 3)
            XCTAssertEqual(generate.out, "images")
        }
    }

    /// A row that names a command without the current option would turn working scripts into errors.
    func testEveryRowParsesForEachOfItsCommands() throws {
        let required = [
            "generate": ["--out", "images"], "interpolate": ["--out", "frames"],
            "evaluate": ["--dataset", "set.pgds"], "export": ["--out", "model.safetensors"],
        ]
        for row in RenamedOption.all {
            for command in row.commands.sorted() {
                let old =
                    [command] + (row.current == nil ? [row.old, "run.ckpt"] : ["run.ckpt", row.old, "3"])
                    + (try XCTUnwrap(required[command], "no required arguments for \(command)"))
                let (arguments, warnings) = RenamedOption.modernized(old)
                XCTAssertEqual(warnings, [row.warning])
                XCTAssertNoThrow(try ProGAN.parseAsRoot(arguments), "\(old)")
            }
        }
    }

    func testCurrentSpellingsAndOtherCommandsAreLeftAlone() {
        let current = ["generate", "run.ckpt", "--images", "3", "--out", "images"]
        XCTAssertEqual(RenamedOption.modernized(current).arguments, current)
        XCTAssertEqual(RenamedOption.modernized(current).warnings, [])
        let otherCommand = ["export", "run.ckpt", "--count", "3", "--checkpoint-kimg", "5"]
        XCTAssertEqual(RenamedOption.modernized(otherCommand).arguments, otherCommand)
        let afterTerminator = ["generate", "--out", "images", "--", "--checkpoint"]
        XCTAssertEqual(RenamedOption.modernized(afterTerminator).arguments, afterTerminator)
    }

    func testASpellingUsedTwiceWarnsOnce() {
        let (arguments, warnings) = RenamedOption.modernized(["generate", "--count", "3", "--count", "4"])
        XCTAssertEqual(arguments, ["generate", "--images", "3", "--images", "4"])
        XCTAssertEqual(warnings, ["--count is deprecated; use --images"])
    }
}
