import XCTest

/// Asserts that `expression` throws the kind of error a user may meet: one line, naming `path` first,
/// then saying what is wrong in words that include `expected`.
public func assertOneLineError<T>(
    _ expression: @autoclosure () throws -> T, path: String, mentioning expected: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        let message = "\(error)"
        XCTAssertTrue(message.hasPrefix("\(path): "), message, file: file, line: line)
        XCTAssertTrue(message.contains(expected), "'\(message)' does not mention '\(expected)'", file: file, line: line)
        XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
    }
}
