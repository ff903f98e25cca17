import ArgumentParser
import XCTest
@testable import progan

/// The help rewraps only lines longer than the terminal and keeps every line break of the source, so prose
/// broken by hand renders as a ragged paragraph at other widths. These tests render every command's help at
/// two widths and check the overview (abstract and discussion) the way a reader would see it.
final class HelpTextTests: XCTestCase {
    private func commands(under command: ParsableCommand.Type = ProGAN.self) -> [ParsableCommand.Type] {
        [command] + command.configuration.subcommands.flatMap { commands(under: $0) }
    }

    /// The overview's lines: everything the help prints before its usage line.
    private func overview(_ command: ParsableCommand.Type, columns: Int) throws -> [Substring] {
        let help = ProGAN.helpMessage(for: command, columns: columns)
        let end = try XCTUnwrap(help.range(of: "\nUSAGE: "), "\(command): no usage line")
        return help[..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
    }

    func testProseFillsEachLineAt80And120Columns() throws {
        for command in commands() {
            for columns in [80, 120] {
                let lines = try overview(command, columns: columns)
                for line in lines { XCTAssertLessThan(line.count, columns, "\(command): '\(line)'") }
                // Indented lines are examples, broken as written; prose breaks only where the next word does not fit.
                for (line, next) in zip(lines, lines.dropFirst())
                where !line.isEmpty && !next.isEmpty && !line.hasPrefix(" ") && !next.hasPrefix(" ") {
                    let word = next.prefix { $0 != " " }
                    XCTAssertGreaterThanOrEqual(
                        line.count + 1 + word.count, columns,
                        "\(command) at \(columns) columns: '\(line)' ends before '\(word)'")
                }
            }
        }
    }

    func testExamplesAreNeverRewrapped() throws {
        for command in commands() {
            let examples = command.configuration.discussion.split(separator: "\n").filter { $0.hasPrefix(" ") }
            let rendered = Set(try overview(command, columns: 80))
            for example in examples { XCTAssert(rendered.contains(example), "\(command): '\(example)' is rewrapped") }
        }
    }

    func testVersionIsTheReleaseConstant() throws {
        XCTAssertEqual(ProGAN.configuration.version, ProGAN.version)
        XCTAssert(ProGAN.version.split(separator: ".").allSatisfy { Int($0) != nil }, ProGAN.version)
        XCTAssert(try overview(ProGAN.self, columns: 120)[0].contains(ProGAN.version))
    }
}
