import Glibc

/// Exclusive ownership of a directory between processes, on any host that sees it: an advisory `flock` on
/// `DIR/.lock`, which holds the owner's host and PID for the message a second owner gets. The kernel drops
/// the lock when the process ends however it ends, so a killed owner never leaves the directory locked;
/// the file itself stays (removing it would race with a process that has just opened it).
public final class DirectoryLock {
    public let path: String
    private let descriptor: Int32

    /// Takes the lock on `directory` (which must exist) or fails at once, naming the holder.
    public init(directory: String) throws {
        path = directory + "/.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError.fromErrno(path: path, action: "cannot open the lock file") }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let code = errno
            defer { close(descriptor) }
            guard code == EWOULDBLOCK else {
                errno = code
                throw FileError.fromErrno(path: path, action: "cannot lock")
            }
            let holder = Self.holder(descriptor)
            throw FileError(
                path: directory,
                problem: "in use by \(holder.isEmpty ? "another process" : holder) (it holds \(path)); "
                    + "wait for it to end or give another directory")
        }
        let owner = "host \(Self.hostName()) pid \(getpid())\n"
        guard ftruncate(descriptor, 0) == 0, pwrite(descriptor, owner, owner.utf8.count, 0) == owner.utf8.count else {
            let error = FileError.fromErrno(path: path, action: "cannot record the owner")
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// "host NAME pid N" as the holder wrote it; empty when unreadable.
    private static func holder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return "" }
        return String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "?" }
        return String(cString: buffer)
    }
}
