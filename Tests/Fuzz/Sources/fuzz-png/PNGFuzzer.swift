// libFuzzer target for RGBImage.read(path:) on PNGs (ImageIO over PNGShim/libpng). Build and run:
// scripts/fuzz.sh png SECONDS.
import ImageFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzImageRead(data, size, ext: "png")
    return 0
}
