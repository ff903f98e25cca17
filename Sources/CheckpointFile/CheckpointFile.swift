import SafeIO

/// The progan checkpoint container, format version 1: named sections, each with a checksum. All
/// integers little-endian.
///
///     "PROGANCK"                      8-byte magic
///     u32 format version              1
///     u32 section count               1 to 64
///     sections, each:
///       u32 name length (<= 64), name (UTF-8, unique in the file)
///       u64 payload length, payload
///       u32 CRC32 (IEEE) of name and payload
///
/// What the sections mean belongs to the training code; this type only frames them. Every length is
/// checked against the bytes that remain before anything is allocated from it, and every problem is
/// one line naming the file.
public struct CheckpointFile: Equatable, FileFormat {
    public struct Section: Equatable {
        public let name: String
        public let payload: ArraySlice<UInt8>

        public init(name: String, payload: ArraySlice<UInt8>) {
            precondition(!name.isEmpty && name.utf8.count <= CheckpointFile.maximumNameLength, "section name '\(name)'")
            self.name = name
            self.payload = payload
        }

        public init(name: String, payload: [UInt8]) {
            self.init(name: name, payload: payload[...])
        }

        /// A section of float32 values.
        public init(name: String, floats: [Float]) {
            var payload: [UInt8] = []
            payload.appendLittleEndian(floats)
            self.init(name: name, payload: payload)
        }

        /// The payload as float32 values; one that is not a whole number of them is an error naming `path`.
        public func floats(path: String) throws -> [Float] {
            guard payload.count % 4 == 0 else {
                throw FileError(path: path, problem: "section '\(name)' is not a whole number of floats")
            }
            return payload.littleEndianFloats()
        }
    }

    public static let magic = Array("PROGANCK".utf8)
    public static let version: UInt32 = 1
    public static let maximumNameLength = 64
    public static let maximumSectionCount = 64

    /// In file order.
    public var sections: [Section]

    public init(sections: [Section]) {
        precondition((1...Self.maximumSectionCount).contains(sections.count), "\(sections.count) sections")
        self.sections = sections
    }

    public subscript(name: String) -> Section? { sections.first { $0.name == name } }

    // MARK: Writing

    public func serialized() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(16 + sections.reduce(0) { $0 + 16 + $1.name.utf8.count + $1.payload.count })
        bytes.appendLittleEndian(Self.version)
        bytes.appendLittleEndian(UInt32(sections.count))
        for section in sections {
            let name = Array(section.name.utf8)
            bytes.appendLittleEndian(UInt32(name.count))
            bytes += name
            bytes.appendLittleEndian(UInt64(section.payload.count))
            bytes += section.payload
            bytes.appendLittleEndian(Self.checksum(name: name[...], payload: section.payload))
        }
        return bytes
    }

    // MARK: Reading

    public static let fileKind = "checkpoint"

    /// The format version a file claims, nil when it does not begin with the magic number and a version:
    /// what tells a file of another progan (refused, kept) from a damaged one before parsing.
    public static func claimedVersion(_ bytes: [UInt8]) -> UInt32? {
        var reader = ByteReader(bytes: bytes, path: "")
        guard let start = try? reader.take(magic.count, "magic number"), start.elementsEqual(magic) else { return nil }
        return try? reader.read("format version")
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> CheckpointFile {
        var reader = ByteReader(bytes: bytes, path: path)
        guard bytes.count >= magic.count, try reader.take(magic.count, "magic number").elementsEqual(magic) else {
            throw reader.error("not a progan checkpoint (bad magic number)")
        }
        let version: UInt32 = try reader.read("format version")
        guard version == Self.version else {
            throw reader.error("checkpoint format version \(version); this build reads version \(Self.version)")
        }
        let count: UInt32 = try reader.read("section count")
        guard count >= 1, count <= maximumSectionCount else {
            throw reader.error("implausible section count \(count) (corrupt header)")
        }
        var sections: [Section] = []
        for _ in 0..<count {
            let nameLength: UInt32 = try reader.read("section name length")
            guard nameLength >= 1, nameLength <= maximumNameLength else {
                throw reader.error("section name of \(nameLength) bytes (corrupt header)")
            }
            let nameBytes = try reader.take(Int(nameLength), "section name")
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw reader.error("a section name is not valid UTF-8 (corrupt header)")
            }
            let payload = try reader.takeLengthPrefixed(UInt64.self, "section '\(name)'")
            let stored: UInt32 = try reader.read("checksum of section '\(name)'")
            guard checksum(name: nameBytes, payload: payload) == stored else {
                throw reader.error("section '\(name)' fails its checksum (corrupt file)")
            }
            guard !sections.contains(where: { $0.name == name }) else {
                throw reader.error("section '\(name)' appears twice")
            }
            sections.append(Section(name: name, payload: payload))
        }
        guard reader.remaining == 0 else {
            throw reader.error("\(reader.remaining) unexpected bytes after the last section")
        }
        return CheckpointFile(sections: sections)
    }

    private static func checksum(name: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> UInt32 {
        var crc = CRC32()
        crc.update(name)
        crc.update(payload)
        return crc.value
    }
}
