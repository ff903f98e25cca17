import PNGShim
import SafeIO

/// An 8-bit sRGB image without alpha, stored row-major with interleaved
/// channels: pixel (x, y) occupies pixels[3 * (y * width + x) ..< +3] as R, G, B.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "RGBImage needs a positive size, got \(width)x\(height)")
        precondition(
            pixels.count == width * height * 3,
            "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Writes the image as a PNG file atomically: readers of `path` see either
    /// the previous file or the complete new one.
    public func write(path: String) throws(ImageError) {
        let png = try encoded(reportingAs: path)
        do {
            try AtomicFile.write(to: path, bytes: png)
        } catch let error as FileError {
            throw .writeFailed(path: path, reason: error.problem)
        } catch {
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// The image as the bytes of a PNG file, for embedding (TensorBoard events, HTML, animations).
    public func pngData() throws(ImageError) -> [UInt8] {
        try encoded(reportingAs: "in-memory PNG")
    }

    private func encoded(reportingAs path: String) throws(ImageError) -> [UInt8] {
        var png: UnsafeMutablePointer<UInt8>?
        var size = 0
        var detail = [CChar](repeating: 0, count: 256)
        let status = pgpng_encode_rgb8(pixels, UInt32(width), UInt32(height), &png, &size, &detail, detail.count)
        if let error = ImageError(status, path: path, detail: detail, width: width, height: height) {
            throw error
        }
        defer { pgpng_free(png) }
        return Array(UnsafeBufferPointer(start: png, count: size))
    }
}

extension ImageError {
    /// nil for PGPNG_OK; encoding fails only for want of memory or inside libpng.
    fileprivate init?(_ status: pgpng_status, path: String, detail: [CChar], width: Int, height: Int) {
        let reason = detail.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch status {
        case .PGPNG_OK: return nil
        case .PGPNG_OUT_OF_MEMORY: self = .outOfMemory(path: path)
        case .PGPNG_TOO_LARGE: self = .tooLarge(path: path, width: width, height: height)
        case .PGPNG_CORRUPT, .PGPNG_WRITE_FAILED: self = .writeFailed(path: path, reason: reason)
        }
    }
}
