import Glibc

/// A failed file operation; `description` is one line naming the file and the problem.
public struct FileError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    /// Describes the current `errno` as the reason `action` failed, e.g.
    /// "cannot rename /d/.x.tmp over it: Is a directory".
    static func fromErrno(path: String, action: @autoclosure () -> String) -> FileError {
        // Read before building any string, which could disturb errno.
        let code = errno
        return FileError(path: path, problem: "\(action()): \(String(cString: strerror(code)))")
    }

    public var description: String {
        "\(path): \(problem)"
    }
}
