import PNGShim

/// Why an image could not be read or written; `description` is one line naming
/// the file and the problem.
public enum ImageError: Error, Equatable, Codable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    /// A FIFO, device, socket or directory: refused from its `fstat`, before any read could block.
    case notARegularFile(path: String, kind: String)
    case emptyFile(path: String)
    case fileTooLarge(path: String, size: Int)
    case unknownFormat(path: String, reason: String)
    case corrupt(path: String, format: String, message: String)
    case tooLarge(path: String, width: Int, height: Int)
    case outOfMemory(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open (\(reason))"
        case .notARegularFile(let path, let kind):
            return "\(path): not a regular file (\(kind))"
        case .emptyFile(let path):
            return "\(path): file is empty"
        case .fileTooLarge(let path, let size):
            return "\(path): \(size) bytes exceeds the limit of \(ImageFile.maximumSize) bytes for an image file"
        case .unknownFormat(let path, let reason):
            return "\(path): not a PNG or JPEG file (\(reason))"
        case .corrupt(let path, let format, let message):
            return "\(path): truncated or corrupt \(format) data (\(message))"
        case .tooLarge(let path, let width, let height):
            let limit =
                max(width, height) > PGPNG_MAX_SIDE
                ? "\(PGPNG_MAX_SIDE) pixels per side" : "\(ImageFile.maximumPixels) pixels in all"
            return "\(path): \(width)x\(height) pixels exceeds the limit of \(limit)"
        case .outOfMemory(let path):
            return "\(path): out of memory while decoding"
        case .writeFailed(let path, let reason):
            return "\(path): cannot write PNG (\(reason))"
        }
    }
}
