// Shared by every fuzz harness of this package. The readers under test take a path, so each input is
// written to one scratch file per process.
import Glibc

/// /tmp/progan-fuzz-<pid>.<ext>, removed when the process exits normally.
public func fuzzScratchPath(_ ext: String) -> String {
    let path = "/tmp/progan-fuzz-\(getpid()).\(ext)"
    if !scratchRegistered {
        scratchRegistered = true
        scratchToRemove = strdup(path)
        atexit { if let path = scratchToRemove { unlink(path) } }
    }
    return path
}

nonisolated(unsafe) private var scratchRegistered = false
nonisolated(unsafe) private var scratchToRemove: UnsafeMutablePointer<CChar>?

/// Replaces the file at `path` with `count` bytes; aborts on I/O failure (an environment
/// problem, not a finding, but it must not pass silently).
public func writeFuzzInput(_ path: String, _ bytes: UnsafeRawPointer?, _ count: Int) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("fuzz harness: cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var written = 0
    while written < count {
        let n = write(fd, bytes! + written, count - written)
        guard n > 0 else { fatalError("fuzz harness: cannot write \(path): \(String(cString: strerror(errno)))") }
        written += n
    }
}

/// CRC-32 (IEEE, reflected 0xEDB88320), the checksum of checkpoints and safetensors; computed here rather
/// than with SafeIO's so that the harness does not trust the code under test to fix its own inputs.
/// `polynomial` 0x82F63B78 gives CRC-32C (Castagnoli), the checksum of prepared datasets (format 2).
public func fuzzCRC32<C: Collection>(_ bytes: C, polynomial: UInt32 = 0xEDB8_8320) -> UInt32
where C.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? polynomial ^ (crc >> 1) : crc >> 1 }
    }
    return ~crc
}

public func storeLittleEndian(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

/// Writes `count` bytes to this process's scratch file ending in `ext` and hands its path to `read`, which
/// returns what it found or throws: a thrown error is the right answer to a bad file, not a finding.
/// Returns whether `read` accepted the file.
@discardableResult
public func readFuzzInput(
    _ bytes: UnsafeRawPointer?, _ count: Int, ext: String, _ read: (String) throws -> String
) -> Bool {
    let path = fuzzScratchPath(ext)
    writeFuzzInput(path, bytes, count)
    do {
        let found = try read(path)
        fuzzVerbose(found)
        return true
    } catch {
        fuzzVerbose("\(error)")
        return false
    }
}

/// With PROGAN_FUZZ_VERBOSE set (when replaying a few files by hand), prints what the reader said.
public func fuzzVerbose(_ message: @autoclosure () -> String) {
    if fuzzVerboseEnabled { print("fuzz: \(message())") }
}
private let fuzzVerboseEnabled = getenv("PROGAN_FUZZ_VERBOSE") != nil
