import Glibc

/// Reading an image file's bytes without trusting what the path names: only regular files are read,
/// and the open cannot block (a FIFO named x.png would otherwise wait forever for a writer).
public enum ImageFile {
    /// Larger files are refused before reading: the largest image the decoders accept (64 Mi pixels)
    /// is far smaller than this even as an uncompressed PNG.
    public static let maximumSize = 1 << 30
    /// PGPNG_MAX_PIXELS and PGJPEG_MAX_PIXELS, an expression Swift does not import from C.
    public static let maximumPixels = 64 << 20

    /// The whole file at `path` (bytes of a file-system path, which need not be UTF-8), errors naming
    /// it as `displayPath`.
    public static func read(path: [CChar], displayPath: String) throws(ImageError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { throw .cannotOpen(path: displayPath, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .cannotOpen(path: displayPath, reason: String(cString: strerror(errno)))
        }
        if let kind = nonRegularKind(status.st_mode) { throw .notARegularFile(path: displayPath, kind: kind) }
        let size = Int(status.st_size)
        guard size > 0 else { throw .emptyFile(path: displayPath) }
        guard size <= maximumSize else { throw .fileTooLarge(path: displayPath, size: size) }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, size - filled) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .cannotOpen(path: displayPath, reason: String(cString: strerror(errno))) }
            // A file that shrank since fstat is decoded as far as it goes; the decoder names what is missing.
            if count == 0 { return Array(bytes[..<filled]) }
            filled += count
        }
        return bytes
    }

    /// What kind of file `mode` describes, or nil for a regular file.
    public static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "of unknown type"
        }
    }
}
