import Foundation
import Model
import SafeIO

/// The checkpoint file format, version 1. All integers little-endian.
///
///     "PROGANCK"                      8-byte magic
///     u32 format version              1
///     u32 section count
///     sections, each:
///       u32 name length (<= 64), name (UTF-8)
///       u64 payload length, payload
///       u32 CRC32 of name and payload
///
/// Sections: "state" (JSON `TrainingState`: config, counters, the tensor table) and one float32 array
/// (little-endian, as every machine this runs on stores floats) per buffer named in the state's table ("g", "d", "g_ema", "adam_g_m", ...). Every length is checked
/// against the bytes that remain before anything is allocated from it, so a truncated or corrupted
/// file is reported, never trusted.
public enum CheckpointFormat {
    static let magic = Array("PROGANCK".utf8)
    public static let version: UInt32 = 1
    static let maximumNameLength = 64
}

/// Everything about a run except its float buffers.
public struct TrainingState: Codable, Equatable {
    public var config: TrainingConfig
    /// CRC32 of the configuration's JSON, for telling runs apart at a glance.
    public var configHash: String
    /// Optimizer steps taken (one D and one G update each).
    public var step: Int
    public var imagesShown: Int
    /// Global index of the next sample in the seeded per-epoch order: independent of the number of ranks.
    public var dataPosition: Int
    /// Resolution and phase of the last step, to tell when a block is added or finishes fading in.
    public var resolution: Int
    public var phase: Phase
    public var adamGeneratorStep: Int
    public var adamDiscriminatorStep: Int
    /// Every random draw is a Philox stream derived from (seed, step, purpose), so the seed and the step
    /// are the whole random state; named here so a reader of the file knows.
    public var randomScheme: String
    /// Named tensors: which buffer section, where, and what shape.
    public var tensors: [TensorEntry]

    public struct TensorEntry: Codable, Equatable {
        public let section: String
        public let name: String
        public let shape: [Int]
        public let offset: Int
    }
}

public struct Checkpoint {
    public var state: TrainingState
    /// Float buffers by section name.
    public var buffers: [String: [Float]]

    public init(state: TrainingState, buffers: [String: [Float]]) {
        self.state = state
        self.buffers = buffers
    }

    public func serialized() -> [UInt8] {
        var bytes = CheckpointFormat.magic
        bytes.appendLittleEndian(CheckpointFormat.version)
        let names = buffers.keys.sorted()
        bytes.appendLittleEndian(UInt32(names.count + 1))
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        appendSection(&bytes, name: "state", payload: Array(try! encoder.encode(state)))
        for name in names {
            let values = buffers[name]!
            appendSection(&bytes, name: name, payload: values.withUnsafeBytes { Array($0) })
        }
        return bytes
    }

    private func appendSection(_ bytes: inout [UInt8], name: String, payload: [UInt8]) {
        let nameBytes = Array(name.utf8)
        bytes.appendLittleEndian(UInt32(nameBytes.count))
        bytes += nameBytes
        bytes.appendLittleEndian(UInt64(payload.count))
        bytes += payload
        var crc = CRC32()
        crc.update(nameBytes)
        crc.update(payload)
        bytes.appendLittleEndian(crc.value)
    }

    /// Writes the checkpoint so that the file at `path` is always either the old one or the complete new one.
    public func write(to path: String) throws {
        try AtomicFile.write(to: path, bytes: serialized())
    }

    public static func read(path: String) throws -> Checkpoint {
        // An empty file is reported before Foundation reads it: its zero-length read path leaks (found
        // by fuzzing under LeakSanitizer, swift-foundation 6.3.1).
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard size != 0 else { throw CheckpointError(path: path, problem: "file is empty") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError(path: path, problem: "cannot be read")
        }
        return try parse(Array(data), path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        var reader = ByteReader(bytes: bytes, path: path)
        guard bytes.count >= 8, Array(bytes[0..<8]) == CheckpointFormat.magic else {
            throw CheckpointError(path: path, problem: "not a progan checkpoint (bad magic number)")
        }
        reader.offset = 8
        let version: UInt32 = try reader.read("format version")
        guard version == CheckpointFormat.version else {
            throw CheckpointError(path: path, problem: "checkpoint format version \(version); this build reads version \(CheckpointFormat.version)")
        }
        let sectionCount: UInt32 = try reader.read("section count")
        guard sectionCount >= 1, sectionCount <= 64 else {
            throw CheckpointError(path: path, problem: "implausible section count \(sectionCount) (corrupt header)")
        }
        var sections: [String: ArraySlice<UInt8>] = [:]
        for _ in 0..<sectionCount {
            let nameLength: UInt32 = try reader.read("section name length")
            guard nameLength <= CheckpointFormat.maximumNameLength else {
                throw CheckpointError(path: path, problem: "section name of \(nameLength) bytes (corrupt header)")
            }
            let nameBytes = try reader.take(Int(nameLength), "section name")
            let name = String(decoding: nameBytes, as: UTF8.self)
            let payloadLength: UInt64 = try reader.read("length of section '\(name)'")
            guard payloadLength <= UInt64(reader.remaining) else {
                throw CheckpointError(path: path, problem: "truncated: section '\(name)' needs \(payloadLength) bytes, \(reader.remaining) remain")
            }
            let payload = try reader.take(Int(payloadLength), "section '\(name)'")
            let stored: UInt32 = try reader.read("checksum of section '\(name)'")
            var crc = CRC32()
            crc.update(nameBytes)
            crc.update(payload)
            guard crc.value == stored else {
                throw CheckpointError(path: path, problem: "section '\(name)' fails its checksum (corrupt file)")
            }
            sections[name] = payload
        }
        guard reader.remaining == 0 else {
            throw CheckpointError(path: path, problem: "\(reader.remaining) unexpected bytes after the last section")
        }
        guard let stateBytes = sections.removeValue(forKey: "state") else {
            throw CheckpointError(path: path, problem: "no state section")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let state: TrainingState
        do {
            state = try decoder.decode(TrainingState.self, from: Data(stateBytes))
        } catch {
            throw CheckpointError(path: path, problem: "unreadable state section (\(error))")
        }
        var buffers: [String: [Float]] = [:]
        for (name, payload) in sections {
            guard payload.count % 4 == 0 else {
                throw CheckpointError(path: path, problem: "section '\(name)' is not a whole number of floats")
            }
            // The payload's offset depends on the lengths before it: copy instead of reading in place.
            buffers[name] = [Float](unsafeUninitializedCapacity: payload.count / 4) { floats, initialized in
                payload.withUnsafeBytes { UnsafeMutableRawBufferPointer(floats).copyMemory(from: $0) }
                initialized = payload.count / 4
            }
        }
        for entry in state.tensors {
            // Checked without arithmetic that could overflow: the numbers come from the file (fuzzing
            // found a trap on a shape of [2^32, 2^32]).
            var count = 1, overflow = false
            for dimension in entry.shape where !overflow {
                (count, overflow) = dimension < 0 ? (0, true) : count.multipliedReportingOverflow(by: dimension)
            }
            guard !overflow, let buffer = buffers[entry.section], entry.offset >= 0, entry.offset <= buffer.count,
                  count <= buffer.count - entry.offset else {
                throw CheckpointError(path: path, problem: "tensor '\(entry.name)' lies outside section '\(entry.section)'")
            }
        }
        return Checkpoint(state: state, buffers: buffers)
    }
}

extension TrainingState {
    static let randomSchemeDescription = "philox4x32-10 substreams of (seed, step, purpose)"

    /// Where each network's parameters lie in the sections g, d and g_ema.
    static func tensorTable(_ network: NetworkConfig) -> [TensorEntry] {
        let sections = [("g", Generator(network).layout), ("d", Discriminator(network).layout), ("g_ema", Generator(network).layout)]
        return sections.flatMap { section, layout in
            layout.parameters.map { TensorEntry(section: section, name: $0.name, shape: $0.shape, offset: $0.offset) }
        }
    }
}

extension Checkpoint {
    /// Networks trained elsewhere as the checkpoint of a run that has shown `imagesShown` images: step 0,
    /// fresh optimizer state, the schedule at the point those images imply.
    public init(startingFrom config: TrainingConfig, generator: [Float], averagedGenerator: [Float], discriminator: [Float],
                imagesShown: Int) {
        let point = schedulePoint(imagesShown: imagesShown, config: config.schedule, finalResolution: config.network.resolution)
        let state = TrainingState(config: config, configHash: config.hash, step: 0, imagesShown: imagesShown, dataPosition: imagesShown,
                                  resolution: point.resolution, phase: point.phase, adamGeneratorStep: 0, adamDiscriminatorStep: 0,
                                  randomScheme: TrainingState.randomSchemeDescription, tensors: TrainingState.tensorTable(config.network))
        let generatorZeros = [Float](repeating: 0, count: generator.count), discriminatorZeros = [Float](repeating: 0, count: discriminator.count)
        self.init(state: state, buffers: ["g": generator, "d": discriminator, "g_ema": averagedGenerator,
                                          "adam_g_m": generatorZeros, "adam_g_v": generatorZeros,
                                          "adam_d_m": discriminatorZeros, "adam_d_v": discriminatorZeros])
    }
}

/// An unreadable or damaged checkpoint: one line naming the file and the problem.
public typealias CheckpointError = FileError

/// Bounds-checked little-endian reads; running past the end is a truncation error naming what was read.
private struct ByteReader {
    let bytes: [UInt8]
    let path: String
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw CheckpointError(path: path, problem: "truncated while reading the \(what)")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func read<T: FixedWidthInteger>(_ what: String) throws -> T {
        let slice = try take(MemoryLayout<T>.size, what)
        return slice.reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
