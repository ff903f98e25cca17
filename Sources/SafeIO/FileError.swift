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
    public static func fromErrno(path: String, action: @autoclosure () -> String) -> FileError {
        // Read before building any string, which could disturb errno.
        let code = errno
        return FileError(path: path, problem: "\(action()): \(String(cString: strerror(code)))")
    }

    public var description: String {
        "\(path): \(problem)"
    }
}

/// Creates `path` and any missing parents (`mkdir -p`); the error names the directory that failed.
public func createDirectory(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        var status = stat()
        if stat(prefix, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else {
                throw FileError(path: prefix, problem: "exists and is not a directory")
            }
        } else if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw FileError.fromErrno(path: prefix, action: "cannot create directory")
        }
        prefix += "/"
    }
}
