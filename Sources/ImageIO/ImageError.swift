import PNGShim

/// Why an image could not be read or written; `description` is one line naming
/// the file and the problem.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case emptyFile(path: String)
    case notPNG(path: String, reason: String)
    case corrupt(path: String, libpngMessage: String)
    case tooLarge(path: String, width: Int, height: Int)
    case outOfMemory(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open (\(reason))"
        case .emptyFile(let path):
            return "\(path): file is empty"
        case .notPNG(let path, let reason):
            return "\(path): not a PNG file (\(reason))"
        case .corrupt(let path, let libpngMessage):
            return "\(path): truncated or corrupt PNG data (\(libpngMessage))"
        case .tooLarge(let path, let width, let height):
            guard width <= PGPNG_MAX_SIDE, height <= PGPNG_MAX_SIDE else {
                return "\(path): \(width)x\(height) pixels exceeds the limit of \(PGPNG_MAX_SIDE) per side"
            }
            return "\(path): \(width)x\(height) pixels exceeds the limit of \(PGPNG_MAX_PIXELS) pixels "
                + "(\(PGPNG_MAX_PIXELS >> 20) Mi) per image"
        case .outOfMemory(let path):
            return "\(path): out of memory while decoding"
        case .writeFailed(let path, let reason):
            return "\(path): cannot write PNG (\(reason))"
        }
    }
}
