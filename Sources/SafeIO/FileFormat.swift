import Glibc

/// The whole content of the regular file at `path`, for the readers of untrusted formats. A missing
/// file, a directory, an empty file or a failed read is a one-line `FileError`. Read with plain system
/// calls: Foundation's `contents(atPath:)` leaks a buffer on empty files (found by fuzzing under
/// LeakSanitizer, swift-foundation 6.3.1).
public func readFileBytes(_ path: String, describedAs kind: String) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        if errno == ENOENT { throw FileError(path: path, problem: "no such file") }
        throw FileError.fromErrno(path: path, action: "cannot open")
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw FileError.fromErrno(path: path, action: "cannot read") }
    guard status.st_mode & S_IFMT != S_IFDIR else {
        throw FileError(path: path, problem: "is a directory, not a \(kind)")
    }
    guard status.st_size > 0 else { throw FileError(path: path, problem: "file is empty") }
    var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
    var filled = 0
    while filled < bytes.count {
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        if count < 0 {
            if errno == EINTR { continue }
            throw FileError.fromErrno(path: path, action: "cannot read")
        }
        guard count > 0 else { throw FileError(path: path, problem: "shrank while being read") }
        filled += count
    }
    return bytes
}

/// A file format read and written whole: a type gives its bytes and its parser, and gets reading a file
/// (with the checks of `readFileBytes`) and writing one atomically (the file at the path is always either
/// the old one or the complete new one).
public protocol FileFormat {
    /// What the file is called in errors: "checkpoint", "safetensors file".
    static var fileKind: String { get }
    /// Throws for a value the format cannot hold.
    func serialized() throws -> [UInt8]
    /// Every problem is a one-line `FileError` naming `path`.
    static func parse(_ bytes: [UInt8], path: String) throws -> Self
}

extension FileFormat {
    public static func read(path: String) throws -> Self {
        try parse(readFileBytes(path, describedAs: fileKind), path: path)
    }

    public func write(to path: String) throws {
        try AtomicFile.write(to: path, bytes: serialized())
    }
}
