/// Bounds-checked little-endian reads over the bytes of a file. Running past the end is a one-line
/// `FileError` naming the file and what was being read, so a truncated or corrupt file is reported,
/// never trusted; nothing is allocated from a length before the bytes it promises are known to exist.
public struct ByteReader {
    public let bytes: [UInt8]
    public let path: String
    public private(set) var offset = 0

    public init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    public var remaining: Int { bytes.count - offset }

    public func error(_ problem: String) -> FileError { FileError(path: path, problem: problem) }

    public mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw error("truncated while reading the \(what)") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    public mutating func read<T: FixedWidthInteger>(_ what: String) throws -> T {
        try take(MemoryLayout<T>.size, what).littleEndianInteger()
    }

    /// A length field of type `T` followed by that many bytes; a length beyond the end of the file is a
    /// truncation, reported with both numbers.
    public mutating func takeLengthPrefixed<T: FixedWidthInteger & UnsignedInteger>(
        _: T.Type, _ what: String
    ) throws -> ArraySlice<UInt8> {
        let length: T = try read("length of the \(what)")
        guard length <= remaining else {
            throw error("truncated: the \(what) needs \(length) bytes, \(remaining) remain")
        }
        return try take(Int(length), what)
    }
}

extension ArraySlice where Element == UInt8 {
    /// The slice's bytes as one little-endian integer; the slice must be exactly its size.
    public func littleEndianInteger<T: FixedWidthInteger>() -> T {
        precondition(count == MemoryLayout<T>.size, "\(count) bytes for a \(MemoryLayout<T>.size)-byte integer")
        return reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }

    /// The slice's bytes as little-endian float32 values (what every machine this runs on stores); the
    /// byte count must be a multiple of 4. Copied rather than read in place: the slice's alignment
    /// depends on the lengths before it in the file.
    public func littleEndianFloats() -> [Float] {
        precondition(count % 4 == 0, "\(count) bytes are not a whole number of floats")
        return [Float](unsafeUninitializedCapacity: count / 4) { floats, initialized in
            withUnsafeBytes { UnsafeMutableRawBufferPointer(floats).copyMemory(from: $0) }
            initialized = count / 4
        }
    }
}

extension Array where Element == UInt8 {
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    public mutating func appendLittleEndian(_ floats: [Float]) {
        floats.withUnsafeBytes { append(contentsOf: $0) }
    }
}

/// The number of elements of `shape` times `elementSize` (bytes per element, or 1 to count elements),
/// or nil when a dimension is negative or the product overflows: shapes read from files are checked
/// without arithmetic that could trap (fuzzing found a trap on a shape of [2^32, 2^32]).
public func checkedElementCount(_ shape: [Int], elementSize: Int = 1) -> Int? {
    var count = elementSize
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        count = product
    }
    return count
}
