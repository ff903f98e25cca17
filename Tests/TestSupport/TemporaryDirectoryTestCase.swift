import XCTest

/// A test case whose every test gets a `directory` of its own, removed when the test ends.
///
/// XCTest keeps every test case instance alive until the whole run ends, so the directory is dropped
/// in `tearDown`, not left to the instance's lifetime.
open class TemporaryDirectoryTestCase: XCTestCase {
    public private(set) var directory: TemporaryDirectory!

    open override func setUpWithError() throws {
        try super.setUpWithError()
        directory = try TemporaryDirectory()
    }

    open override func tearDown() {
        directory = nil
        super.tearDown()
    }
}
