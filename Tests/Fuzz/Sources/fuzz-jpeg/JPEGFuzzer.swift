// libFuzzer target for RGBImage.read(path:) on JPEG input (ImageIO over JPEGShim/libjpeg-turbo). Build and
// run: scripts/fuzz.sh jpeg SECONDS. A thrown ImageError is the correct answer to a bad file; only crashes,
// sanitizer reports, leaks, timeouts and huge allocations are findings.
import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    readFuzzInput(data, size, ext: "jpg") { path in
        let image = try RGBImage.read(path: path)
        // Touch the result so the decode cannot be optimized away and the invariants are checked.
        precondition(image.width > 0 && image.height > 0 && image.pixels.count == image.width * image.height * 3)
        var sum = 0
        for byte in image.pixels.prefix(64) { sum &+= Int(byte) }
        return "valid: \(image.width)x\(image.height), first pixels sum to \(sum)"
    }
    return 0
}
