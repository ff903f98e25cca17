// libFuzzer target for Checkpoint.read(path:): the CheckpointFile container, then the state and the tensor
// table (Sources/Training/Checkpoint.swift). Build and run: scripts/fuzz.sh checkpoint SECONDS.
//
// Each section carries a CRC-32 of its name and payload, which random mutation almost never keeps
// right, so an input the reader rejects is retried once with every section checksum recomputed
// (when that changes anything): the fuzzer then also reaches the JSON state and the tensor table.
import FuzzSupport
import Training

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let read = { (path: String) in "valid: step \(try Checkpoint.read(path: path).state.step)" }
    if readFuzzInput(data, size, ext: "ckpt", read) { return 0 }
    let original = Array(UnsafeBufferPointer(start: data, count: size))
    let fixed = withSectionChecksumsFixed(original)
    if fixed != original { readFuzzInput(fixed, fixed.count, ext: "ckpt", read) }
    return 0
}

/// Walks the sections as the format describes ("PROGANCK", u32 version, u32 count, then per section
/// u32 name length, name, u64 payload length, payload, u32 CRC of name + payload) and rewrites each
/// CRC that is present; stops at the first length that does not fit.
private func withSectionChecksumsFixed(_ input: [UInt8]) -> [UInt8] {
    var bytes = input
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
    guard bytes.count >= 16 else { return bytes }
    let count = min(Int(u32(12)), 64)
    var offset = 16
    for _ in 0..<count {
        guard bytes.count - offset >= 4 else { break }
        let nameLength = Int(u32(offset))
        guard nameLength <= 64, bytes.count - offset - 4 >= nameLength + 8 else { break }
        let nameStart = offset + 4
        let payloadLength = u64(nameStart + nameLength)
        let payloadStart = nameStart + nameLength + 8
        guard bytes.count - payloadStart >= 4, payloadLength <= UInt64(bytes.count - payloadStart - 4) else { break }
        let payloadEnd = payloadStart + Int(payloadLength)
        let crc = fuzzCRC32(bytes[nameStart..<(nameStart + nameLength)] + bytes[payloadStart..<payloadEnd])
        storeLittleEndian(crc, into: &bytes, at: payloadEnd)
        offset = payloadEnd + 4
    }
    return bytes
}
