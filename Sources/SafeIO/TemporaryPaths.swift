import Foundation

/// Scratch directories this process made in the system temporary directory, so that no exit path leaves
/// them behind: a command removes its own when done (`remove`), `exit` (every error ends in one) removes
/// the rest through an `atexit` handler, and a command that handles SIGTERM/SIGINT calls `removeAll` when it
/// sees the stop flag. The signal handler itself only sets that flag: removing a tree takes locks and
/// allocates, which a handler must not do.
public enum TemporaryPaths {
    private static let lock = NSLock()
    private static var paths: Set<String> = []
    private static var exitHandlerInstalled = false

    /// A new, empty directory `TMPDIR/NAME-XXXXXX` (mode 0700), registered for removal.
    public static func makeDirectory(named name: String) throws -> String {
        let root = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(root)/\(name)-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw FileError.fromErrno(path: root, action: "cannot create a scratch directory")
        }
        let path = String(cString: template)
        register(path)
        return path
    }

    public static func register(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        paths.insert(path)
        if !exitHandlerInstalled {
            exitHandlerInstalled = true
            atexit { TemporaryPaths.removeAll() }
        }
    }

    public static func unregister(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        paths.remove(path)
    }

    /// Removes `path` (a scratch directory and what it holds) and forgets it.
    public static func remove(_ path: String) {
        unregister(path)
        try? FileManager.default.removeItem(atPath: path)
    }

    public static func removeAll() {
        lock.lock()
        let all = paths
        paths = []
        lock.unlock()
        for path in all { try? FileManager.default.removeItem(atPath: path) }
    }
}
