import Foundation
import SafeIO
import TestSupport
import XCTest

final class StorageSafetyTests: TemporaryDirectoryTestCase {
    func testOutputPathsNamingNothingOrTheRootAreRefused() {
        for path in ["", "/", "//", "/.", "/..", "/tmp/..", "/./tmp/../../"] {
            XCTAssertNotNil(outputPathProblem(path), "'\(path)' must be refused")
        }
        for path in ["runs/first", ".", "/tmp", "/tmp/../home/run", "x.png"] {
            XCTAssertNil(outputPathProblem(path), "'\(path)' must be accepted")
        }
    }

    func testASecondLockOnTheDirectoryFailsNamingTheHolder() throws {
        var first: DirectoryLock? = try DirectoryLock(directory: directory.path)
        XCTAssertThrowsError(try DirectoryLock(directory: directory.path)) { error in
            XCTAssert("\(error)".contains("in use by host "), "\(error)")
            XCTAssert("\(error)".contains("pid \(getpid())"), "\(error)")
        }
        XCTAssertNotNil(first)
        first = nil
        XCTAssertNoThrow(try DirectoryLock(directory: directory.path), "the lock must be free once released")
    }

    func testOnlyTemporaryFilesOfDeadWritersAreRemoved() throws {
        let dead = try finishedProcessID()
        try FileManager.default.createDirectory(atPath: directory.file("sub"), withIntermediateDirectories: true)
        let abandoned = [directory.file(".a.ckpt.\(dead).1f.tmp"), directory.file("sub/.b.png.\(dead).ff.tmp")]
        let kept = [
            directory.file(".mine.\(getpid()).1f.tmp"), directory.file(".keep.tmp"), directory.file("x.\(dead).1f.tmp"),
            directory.file(".a.ckpt.\(dead).not-hex.tmp"),
        ]
        for path in abandoned + kept { XCTAssert(FileManager.default.createFile(atPath: path, contents: Data())) }
        XCTAssertEqual(AtomicFile.removeAbandonedTemporaries(under: directory.path).sorted(), abandoned.sorted())
        for path in kept { XCTAssert(FileManager.default.fileExists(atPath: path), path) }
    }

    func testScratchDirectoriesAreRemovedByRemoveAll() throws {
        let scratch = try TemporaryPaths.makeDirectory(named: "progan-test")
        XCTAssert(FileManager.default.createFile(atPath: scratch + "/frame.png", contents: Data([1])))
        TemporaryPaths.removeAll()
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch))
    }

    /// The PID of a process that has ended: no live process will own it for the length of a test.
    private func finishedProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
