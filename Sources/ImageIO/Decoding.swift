import Glibc
import JPEGShim
import PNGShim

extension RGBImage {
    /// Decodes a PNG or JPEG file, told apart by content rather than name, as PIL does.
    ///
    /// PNG: any PNG to 8-bit RGB; transparent pixels are composited onto white (see pgpng_decode_rgb8).
    /// JPEG: exactly djpeg's pixels (see pgjpeg_decode_rgb8). EXIF orientation is ignored, as in both
    /// dataset_tool.py scripts (PIL's open does not apply it): the pixels are taken as stored, the same
    /// way every time, so a camera's rotated portraits stay rotated in the dataset.
    public static func read(path: String) throws(ImageError) -> RGBImage {
        try read(fileSystemPath: Array(path.utf8CString), displayPath: path)
    }

    /// As `read(path:)` for a path given as the NUL-terminated bytes the file system holds (not
    /// necessarily UTF-8); errors name the file as `displayPath`.
    public static func read(fileSystemPath: [CChar], displayPath: String) throws(ImageError) -> RGBImage {
        try decode(ImageFile.read(path: fileSystemPath, displayPath: displayPath), displayPath: displayPath)
    }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Start of image, then the first marker's 0xFF.
    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]

    /// Decodes the bytes of a whole PNG or JPEG file.
    public static func decode(_ bytes: [UInt8], displayPath path: String) throws(ImageError) -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        let (width, height) = try run(bytes, path: path, pixels: &pixels)
        defer { free(pixels) }
        return RGBImage(
            width: width, height: height, pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * 3)))
    }

    /// The size a PNG or JPEG file declares, from its header alone, checked as `decode` checks it (signature,
    /// header, limits); the pixels are not decoded, so a file damaged after its header passes.
    public static func size(of bytes: [UInt8], displayPath path: String) throws(ImageError) -> (width: Int, height: Int)
    {
        try run(bytes, path: path, pixels: nil)
    }

    /// Runs the decoder the signature names; with `pixels` nil, on the header only.
    private static func run(
        _ bytes: [UInt8], path: String, pixels: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?
    ) throws(ImageError) -> (width: Int, height: Int) {
        guard !bytes.isEmpty else { throw .emptyFile(path: path) }
        let decoder: Decoder
        if bytes.starts(with: pngSignature) {
            decoder = .png
        } else if bytes.starts(with: jpegSignature) {
            decoder = .jpeg
        } else if bytes.count < pngSignature.count {
            throw .unknownFormat(path: path, reason: "only \(bytes.count) bytes, shorter than any image signature")
        } else {
            throw .unknownFormat(path: path, reason: "bad signature")
        }
        var width: UInt32 = 0
        var height: UInt32 = 0
        var detail = [CChar](repeating: 0, count: 256)
        let status = decoder.decode(bytes, pixels, &width, &height, &detail)
        let reason = detail.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch status {
        case .ok: return (Int(width), Int(height))
        case .corrupt: throw .corrupt(path: path, format: decoder.name, message: reason)
        case .tooLarge: throw .tooLarge(path: path, width: Int(width), height: Int(height))
        case .outOfMemory: throw .outOfMemory(path: path)
        }
    }
}

/// The two C decoders behind one signature.
private enum Decoder {
    case png, jpeg

    enum Status { case ok, corrupt, tooLarge, outOfMemory }

    var name: String { self == .png ? "PNG" : "JPEG" }

    func decode(
        _ bytes: [UInt8], _ pixels: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, _ width: inout UInt32,
        _ height: inout UInt32, _ detail: inout [CChar]
    ) -> Status {
        let capacity = detail.count
        switch self {
        case .png:
            switch pgpng_decode_rgb8(bytes, bytes.count, pixels, &width, &height, &detail, capacity) {
            case .PGPNG_OK: return .ok
            case .PGPNG_CORRUPT, .PGPNG_WRITE_FAILED: return .corrupt
            case .PGPNG_TOO_LARGE: return .tooLarge
            case .PGPNG_OUT_OF_MEMORY: return .outOfMemory
            }
        case .jpeg:
            switch pgjpeg_decode_rgb8(bytes, bytes.count, pixels, &width, &height, &detail, capacity) {
            case .PGJPEG_OK: return .ok
            case .PGJPEG_CORRUPT: return .corrupt
            case .PGJPEG_TOO_LARGE: return .tooLarge
            case .PGJPEG_OUT_OF_MEMORY: return .outOfMemory
            }
        }
    }
}
