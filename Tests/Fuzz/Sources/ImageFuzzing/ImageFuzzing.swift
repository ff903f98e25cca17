// The body of the image harnesses (fuzz-png, fuzz-jpeg): they differ in their seed corpus and scratch
// file name only, since RGBImage.read picks the decoder by content.
import FuzzSupport
import ImageIO

/// Reads the input as an image file ending in `ext`. A thrown ImageError is the correct answer to a bad
/// file; only crashes, sanitizer reports, leaks, timeouts and huge allocations are findings.
public func fuzzImageRead(_ data: UnsafePointer<UInt8>, _ size: Int, ext: String) {
    readFuzzInput(data, size, ext: ext) { path in
        let image = try RGBImage.read(path: path)
        // Touch the result so the decode cannot be optimized away and the invariants are checked.
        precondition(image.width > 0 && image.height > 0 && image.pixels.count == image.width * image.height * 3)
        var sum = 0
        for byte in image.pixels.prefix(64) { sum &+= Int(byte) }
        return "valid: \(image.width)x\(image.height), first pixels sum to \(sum)"
    }
}
