import Glibc

/// Replaces files so that a crash or power loss leaves either the old content
/// or the new, never a torn mix: the data goes to a temporary file in the same
/// directory (rename is only atomic within one file system), is flushed to
/// disk, renamed over the target, and the directory entry is flushed too.
/// On failure the temporary file is removed and the target is untouched.
public enum AtomicFile {
    public static func write(to path: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(to: path, bytes: $0) }
    }

    public static func write(to path: String, bytes: UnsafeRawBufferPointer) throws {
        try replace(path) { descriptor, _ in
            try writeAll(bytes, to: descriptor, reportingAs: path)
        }
    }

    /// For writers that open the file themselves, such as libpng: `writeFile`
    /// receives the path of an existing, empty temporary file to overwrite.
    public static func write(to path: String, using writeFile: (_ temporaryPath: String) throws -> Void) throws {
        try replace(path) { _, temporaryPath in
            try writeFile(temporaryPath)
        }
    }

    private static func replace(
        _ path: String, fill: (_ descriptor: Int32, _ temporaryPath: String) throws -> Void
    ) throws {
        let (directory, fileName) = split(path)
        // The random part keeps concurrent writers (several ranks, several
        // processes) from sharing a temporary file; O_EXCL makes sure of it.
        let temporaryPath = "\(directory)/" + temporaryName(for: fileName)
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw FileError.fromErrno(path: path, action: "cannot create a temporary file in \(directory)")
        }
        var descriptorIsOpen = true
        do {
            try fill(descriptor, temporaryPath)
            try succeed(fsync(descriptor), path, "cannot flush \(temporaryPath) to disk")
            // Linux releases the descriptor even when close fails.
            descriptorIsOpen = false
            try succeed(close(descriptor), path, "cannot close \(temporaryPath)")
            try succeed(rename(temporaryPath, path), path, "cannot rename \(temporaryPath) over it")
        } catch {
            if descriptorIsOpen {
                close(descriptor)
            }
            unlink(temporaryPath)
            throw error
        }
        try flushDirectory(directory, containing: path)
    }

    /// A rename is only durable once the directory holding it is flushed.
    private static func flushDirectory(_ directory: String, containing path: String) throws {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileError.fromErrno(path: path, action: "cannot open directory \(directory) to flush it")
        }
        defer { close(descriptor) }
        try succeed(fsync(descriptor), path, "cannot flush directory \(directory) to disk")
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, reportingAs path: String) throws
    {
        var remaining = bytes[...]
        while !remaining.isEmpty {
            let written = Glibc.write(
                descriptor, UnsafeRawBufferPointer(rebasing: remaining).baseAddress, remaining.count)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError.fromErrno(path: path, action: "cannot write")
            }
            remaining = remaining.dropFirst(written)
        }
    }

    private static func succeed(_ result: Int32, _ path: String, _ action: @autoclosure () -> String) throws {
        guard result == 0 else {
            throw FileError.fromErrno(path: path, action: action())
        }
    }

    /// `.NAME.PID.RANDOM.tmp`: hidden, and recognizable afterwards by `isTemporaryName`.
    private static func temporaryName(for fileName: String) -> String {
        ".\(fileName).\(getpid()).\(String(UInt64.random(in: .min ... .max), radix: 16)).tmp"
    }

    /// Whether `name` is one of this type's temporary names, and the PID of the process that made it.
    static func temporaryOwner(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return nil }
        let parts = name.dropFirst().dropLast(".tmp".count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, !parts[0].isEmpty, let random = parts.last, !random.isEmpty, random.count <= 16,
            random.allSatisfy(\.isHexDigit), let pid = pid_t(parts[parts.count - 2]), pid > 0
        else { return nil }
        return pid
    }

    /// Removes the temporary files that writers killed mid-write (SIGKILL, power loss) left in `directory`
    /// and the directories under it (symbolic links are not followed); returns their paths. Files of a
    /// process that is still alive on this host are left alone. Only for a directory the caller owns
    /// (`DirectoryLock`): another writer's temporary file may be mid-write.
    public static func removeAbandonedTemporaries(under directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var removed: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            guard name != ".", name != ".." else { continue }
            let path = directory + "/" + name
            var status = stat()
            guard lstat(path, &status) == 0 else { continue }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                removed += removeAbandonedTemporaries(under: path)
            case S_IFREG:
                guard let pid = temporaryOwner(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else {
                    continue
                }
                if unlink(path) == 0 { removed.append(path) }
            default:
                continue
            }
        }
        return removed
    }

    private static func split(_ path: String) -> (directory: String, fileName: String) {
        guard let slash = path.lastIndex(of: "/") else {
            return (".", path)
        }
        let directory = path[..<slash]
        return (directory.isEmpty ? "/" : String(directory), String(path[path.index(after: slash)...]))
    }
}
