// libFuzzer target for RGBImage.read(path:) on JPEGs (ImageIO over JPEGShim/libjpeg-turbo). Build and run:
// scripts/fuzz.sh jpeg SECONDS. libjpeg-turbo is the system's, without coverage counters: the fuzzer is
// guided by the Swift side and the shim only, and relies on the seeds (scripts/fuzz.sh) for the decoder's
// paths.
import ImageFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzImageRead(data, size, ext: "jpg")
    return 0
}
