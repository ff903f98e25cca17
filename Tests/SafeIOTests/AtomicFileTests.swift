import SafeIO
import TestSupport
import XCTest

final class AtomicFileTests: TemporaryDirectoryTestCase {
    func testWriteReplacesContentAndLeavesOnlyTheTarget() throws {
        let path = directory.file("state.bin")
        try AtomicFile.write(to: path, bytes: Array("first version, longer".utf8))
        try AtomicFile.write(to: path, bytes: Array("second".utf8))
        XCTAssertEqual(try contents(of: path), Array("second".utf8))
        XCTAssertEqual(try directory.contents(), ["state.bin"])
    }

    func testClosureWritesThroughTheTemporaryPath() throws {
        let path = directory.file("external.txt")
        var temporaryPath = ""
        try AtomicFile.write(to: path) { pathToFill in
            temporaryPath = pathToFill
            try Data("from the closure".utf8).write(to: URL(fileURLWithPath: pathToFill))
        }
        XCTAssertNotEqual(temporaryPath, path)
        XCTAssert(temporaryPath.hasPrefix(directory.path + "/"), "temporary file must share the target's directory")
        XCTAssertEqual(try contents(of: path), Array("from the closure".utf8))
        XCTAssertEqual(try directory.contents(), ["external.txt"])
    }

    func testFailingClosureKeepsTheOldContentAndRemovesTheTemporaryFile() throws {
        struct WriterFailed: Error {}
        let path = directory.file("keep.txt")
        try AtomicFile.write(to: path, bytes: Array("old".utf8))
        XCTAssertThrowsError(
            try AtomicFile.write(to: path) { pathToFill in
                try Data("partial".utf8).write(to: URL(fileURLWithPath: pathToFill))
                throw WriterFailed()
            }
        ) { error in
            XCTAssert(error is WriterFailed, "the closure's own error must come through, got \(error)")
        }
        XCTAssertEqual(try contents(of: path), Array("old".utf8))
        XCTAssertEqual(try directory.contents(), ["keep.txt"])
    }

    func testWriteIntoMissingDirectoryThrowsNamingThePath() throws {
        let path = directory.file("missing/out.bin")
        XCTAssertThrowsError(try AtomicFile.write(to: path, bytes: [1, 2, 3])) { error in
            XCTAssert(error is FileError, "\(error)")
            XCTAssert("\(error)".hasPrefix(path + ": "), "\(error)")
            XCTAssert("\(error)".contains("No such file or directory"), "\(error)")
        }
        XCTAssertEqual(try directory.contents(), [])
    }

    // Root ignores directory permissions, so the failure is provoked at the
    // last step instead: renaming a file over a directory fails, after the
    // temporary file was created and filled.
    func testFailedRenameRemovesTheTemporaryFile() throws {
        let path = directory.file("occupied")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        XCTAssertThrowsError(try AtomicFile.write(to: path, bytes: [1, 2, 3])) { error in
            XCTAssert("\(error)".hasPrefix(path + ": cannot rename"), "\(error)")
            XCTAssert("\(error)".contains("Is a directory"), "\(error)")
        }
        XCTAssertEqual(try directory.contents(), ["occupied"])
    }

    private func contents(of path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
