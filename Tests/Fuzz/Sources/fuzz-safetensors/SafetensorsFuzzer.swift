// libFuzzer target for SafetensorsFile.read(path:) (Sources/Safetensors, what `progan import` reads).
// Build and run: scripts/fuzz.sh safetensors SECONDS.
//
// The header length field must match the input for the reader to get past it, which random mutation
// rarely keeps; an input the reader rejects is retried once with the field set to the length up to
// the header's last '}', so the fuzzer also reaches the JSON and the tensor table checks.
import FuzzSupport
import Safetensors

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let read = { (path: String) in "valid: \(try SafetensorsFile.read(path: path).tensors.count) tensors" }
    if readFuzzInput(data, size, ext: "safetensors", read) { return 0 }
    let original = Array(UnsafeBufferPointer(start: data, count: size))
    guard original.count > 8, let close = original[8...].lastIndex(of: UInt8(ascii: "}")) else { return 0 }
    var fixed = original
    let length = UInt64(close - 8 + 1)
    for i in 0..<8 { fixed[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
    if fixed != original { readFuzzInput(fixed, fixed.count, ext: "safetensors", read) }
    return 0
}
