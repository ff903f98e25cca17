import Foundation
import SafeIO

/// The safetensors format (huggingface/safetensors), float32 tensors only:
///
///     u64 N                 header length, little-endian
///     N bytes               UTF-8 JSON object: "__metadata__": {string: string} (optional), and per tensor
///                           name: {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}
///     data                  the tensors' bytes, little-endian; offsets count from the start of the data
///
/// The tensors must cover the data exactly, without gaps or overlaps (as the reference implementation
/// requires). Every number read from a file is checked before it is used, and every problem is one line
/// naming the file.
public struct SafetensorsFile: Equatable, FileFormat {
    public struct Tensor: Equatable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            precondition(
                shape.reduce(1, *) == values.count, "tensor \(name): shape \(shape) for \(values.count) values")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// In the order of their data in the file.
    public var tensors: [Tensor]
    public var metadata: [String: String]

    public init(tensors: [Tensor], metadata: [String: String]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// The reference implementation's limit: a longer header is taken to be a corrupt length field.
    public static let maximumHeaderLength = 100_000_000
    static let metadataKey = "__metadata__"
    /// Every dtype the format defines, with its size in bytes, so that a file of another dtype is named
    /// as such rather than as corrupt.
    static let dtypeSizes = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4,
        "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    ]

    // MARK: Writing

    public func serialized() -> [UInt8] {
        var header = "{"
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\(jsonString(Self.metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            let end = offset + tensor.values.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        // Spaces up to a multiple of 8 keep the data 8-byte aligned, as the reference writer does.
        headerBytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        bytes.appendLittleEndian(UInt64(headerBytes.count))
        bytes += headerBytes
        for tensor in tensors { bytes.appendLittleEndian(tensor.values) }
        return bytes
    }

    // MARK: Reading

    public static let fileKind = "safetensors file"

    public static func parse(_ bytes: [UInt8], path: String) throws -> SafetensorsFile {
        var reader = ByteReader(bytes: bytes, path: path)
        let fail = reader.error
        guard bytes.count >= 8 else {
            throw fail("\(bytes.count) bytes: too short for the 8-byte header length (truncated?)")
        }
        let declared: UInt64 = try reader.read("header length")
        guard declared <= UInt64(maximumHeaderLength) else {
            throw fail(
                "header length \(declared) exceeds the limit of \(maximumHeaderLength) bytes "
                    + "(not a safetensors file, or corrupt)"
            )
        }
        let headerLength = Int(declared)
        guard headerLength <= reader.remaining else {
            throw fail(
                "header length \(headerLength) runs past the end of the file (\(bytes.count) bytes): "
                    + "truncated or corrupt"
            )
        }
        let headerBytes = try reader.take(headerLength, "header")
        guard headerLength >= 2, headerBytes.first == UInt8(ascii: "{") else {
            throw fail("the header is not a JSON object (not a safetensors file)")
        }
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw fail("the header is not valid UTF-8") }
        guard (try? JSONSerialization.jsonObject(with: Data(headerBytes))) is [String: Any] else {
            throw fail("the header is not valid JSON")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
        } catch let error as DecodingError {
            throw fail("malformed header entry: \(describe(error))")
        } catch {
            throw fail("unreadable header (\(error))")
        }

        let dataStart = reader.offset, dataLength = reader.remaining
        var spans: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, entry) in header.entries {
            guard let size = dtypeSizes[entry.dtype] else {
                throw fail("tensor '\(name)': unknown dtype '\(entry.dtype)'")
            }
            guard entry.dtype == "F32" else {
                throw fail("tensor '\(name)' is \(entry.dtype); progan reads F32 tensors only")
            }
            guard entry.dataOffsets.count == 2 else {
                throw fail("tensor '\(name)': data_offsets has \(entry.dataOffsets.count) numbers, not 2")
            }
            let begin = entry.dataOffsets[0], end = entry.dataOffsets[1]
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(dataLength) data bytes")
            }
            guard checkedElementCount(entry.shape, elementSize: size) == end - begin else {
                throw fail(
                    "tensor '\(name)': shape \(entry.shape) of \(entry.dtype) does not match its "
                        + "\(end - begin) data bytes"
                )
            }
            spans.append((name, entry.shape, begin, end))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for (index, span) in spans.enumerated() {
            guard span.begin >= covered else {
                throw fail("tensors '\(spans[index - 1].name)' and '\(span.name)' overlap")
            }
            guard span.begin == covered else { throw fail("data bytes \(covered)..<\(span.begin) belong to no tensor") }
            covered = span.end
        }
        guard covered == dataLength else {
            throw fail("\(dataLength - covered) data bytes after the last tensor belong to no tensor")
        }

        let tensors = spans.map { span in
            let data = bytes[(dataStart + span.begin)..<(dataStart + span.end)]
            return Tensor(name: span.name, shape: span.shape, values: data.littleEndianFloats())
        }
        return SafetensorsFile(tensors: tensors, metadata: header.metadata)
    }
}

/// A file that is not a valid safetensors file: one line naming the file and the problem.
public typealias SafetensorsError = FileError

/// The header's JSON: the metadata map and one entry per tensor, in whatever order the file lists them.
private struct Header: Decodable {
    var metadata: [String: String] = [:]
    var entries: [(String, Entry)] = []

    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == SafetensorsFile.metadataKey {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                entries.append((key.stringValue, try container.decode(Entry.self, forKey: key)))
            }
        }
    }
}

/// A decoding error as "where: what", on one line.
private func describe(_ error: DecodingError) -> String {
    let context: DecodingError.Context
    switch error {
    case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c): context = c
    case let .keyNotFound(key, c):
        return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): no '\(key.stringValue)'"
    @unknown default: return "\(error)"
    }
    let location = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    return "\(location): \(context.debugDescription)".replacingOccurrences(of: "\n", with: " ")
}

/// `value` as a JSON string literal.
private func jsonString(_ value: String) -> String {
    var result = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
