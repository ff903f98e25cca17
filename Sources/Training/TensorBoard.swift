import Foundation
import Glibc
import ImageIO
import SafeIO

/// Writes TensorBoard event files: TFRecord framing around `tensorflow.Event` protocol buffers, encoded
/// by hand (four message types with a handful of fields do not justify a protobuf dependency).
///
/// Each training process writes a file of its own, `events.out.tfevents.<seconds>.<host>.<pid>`;
/// TensorBoard reads every file of the directory in name order, so a resumed run simply adds one. The
/// first event after the version record is a `SessionLog` START at the resume point: TensorBoard then
/// drops the points of earlier files at or after that step, which belonged to an abandoned future (a
/// resume from an older checkpoint), just as `metrics.jsonl` is truncated.
public final class TensorBoardWriter {
    public let path: String
    private let descriptor: Int32

    /// Opens a new event file in `directory`; `step` is where the run starts or resumes (its step axis
    /// is images shown, which unlike the optimizer step is comparable between runs of any minibatch).
    public init(directory: String, resumingAt step: Int) throws {
        try createDirectory(directory)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let name = String(
            format: "%@/events.out.tfevents.%010d.%@.%d", directory, Int(Date().timeIntervalSince1970),
            String(cString: host), getpid())
        // A second writer in the same process and second takes the next free suffix.
        var candidate = name, suffix = 0, opened: Int32
        while true {
            opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            guard opened < 0 && errno == EEXIST else { break }
            suffix += 1
            candidate = "\(name).\(suffix)"
        }
        path = candidate
        descriptor = opened
        guard descriptor >= 0 else {
            throw FileError(path: path, problem: "cannot create (\(String(cString: strerror(errno))))")
        }
        var version = event(step: 0)
        version.string(3, "brain.Event:2")
        // The tick recorded at `step` itself stays (metrics.jsonl keeps it too); START purges from its step on.
        var start = event(step: step + 1)
        var sessionLog = ProtobufMessage()
        sessionLog.varint(1, 1)
        start.message(7, sessionLog)
        try append([version, start])
    }

    deinit { close(descriptor) }

    /// One event holding `scalars` and PNG-encoded `images` at `step`, written through to the file so
    /// that TensorBoard shows each tick as it ends. A crash can leave a torn last record, which
    /// TensorBoard's reader detects by its checksum and ignores.
    public func write(
        step: Int, scalars: [(tag: String, value: Double)], images: [(tag: String, image: RGBImage)]
    ) throws {
        var summary = ProtobufMessage()
        for (tag, value) in scalars {
            var entry = ProtobufMessage()
            entry.string(1, tag)
            entry.float(2, Float(value))
            summary.message(1, entry)
        }
        for (tag, image) in images {
            var encoded = ProtobufMessage()
            encoded.varint(1, UInt64(image.height))
            encoded.varint(2, UInt64(image.width))
            encoded.varint(3, 3)  // colorspace: RGB
            encoded.bytes(4, try image.pngData())
            var entry = ProtobufMessage()
            entry.string(1, tag)
            entry.message(4, encoded)
            summary.message(1, entry)
        }
        var record = event(step: step)
        record.message(5, summary)
        try append([record])
    }

    private func event(step: Int) -> ProtobufMessage {
        var event = ProtobufMessage()
        event.double(1, Date().timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        return event
    }

    private func append(_ events: [ProtobufMessage]) throws {
        let bytes = events.flatMap { tfRecord($0.bytes) }
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw FileError(path: path, problem: "cannot append (\(String(cString: strerror(errno))))")
            }
            written += result
        }
    }
}

/// A TFRecord: little-endian length, its masked CRC-32C, the data, the data's masked CRC-32C.
func tfRecord(_ data: [UInt8]) -> [UInt8] {
    let length = littleEndianBytes(UInt64(data.count))
    return length + littleEndianBytes(maskedCRC32C(length)) + data + littleEndianBytes(maskedCRC32C(data))
}

/// TFRecord's checksum: CRC-32C rotated and offset, because a CRC of data that itself holds CRCs is weak.
func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
    let crc = CRC32.checksum(bytes, .castagnoli)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

func littleEndianBytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// Protocol-buffer wire encoding of the field types the event files need.
struct ProtobufMessage {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        appendVarint(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, wireType: 1)
        bytes += littleEndianBytes(value.bitPattern)
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, wireType: 5)
        bytes += littleEndianBytes(value.bitPattern)
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        appendVarint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ value: ProtobufMessage) { bytes(field, value.bytes) }

    private mutating func key(_ field: Int, wireType: UInt64) { appendVarint(UInt64(field) << 3 | wireType) }

    private mutating func appendVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }
}
