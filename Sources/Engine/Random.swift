import Foundation

/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
/// counter-based generator. The n-th 32-bit word of a stream is a pure function of (key, n), so the
/// whole state is two integers: it saves and restores exactly, and a stream can be split by position
/// without drawing the numbers before it.
public struct PhiloxRandom: Equatable, Codable {
    public let key: UInt64
    /// Index of the next 32-bit word of the stream.
    public var position: UInt64

    public init(seed: UInt64, position: UInt64 = 0) {
        key = seed
        self.position = position
    }

    /// An independent stream derived from this generator's key and `stream`.
    public func substream(_ stream: UInt64) -> PhiloxRandom {
        let block = PhiloxRandom.block(counter: (stream, 0xD1B5_4A32_D192_ED03), key: key)
        return PhiloxRandom(seed: UInt64(block.0) | UInt64(block.1) << 32)
    }

    static func block(counter: (UInt64, UInt64), key: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: counter.0), c1 = UInt32(truncatingIfNeeded: counter.0 >> 32)
        var c2 = UInt32(truncatingIfNeeded: counter.1), c3 = UInt32(truncatingIfNeeded: counter.1 >> 32)
        var k0 = UInt32(truncatingIfNeeded: key), k1 = UInt32(truncatingIfNeeded: key >> 32)
        for round in 0..<10 {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let p0 = UInt64(0xD251_1F53) * UInt64(c0), p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
            (c0, c1, c2, c3) = (
                UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0)
            )
        }
        return (c0, c1, c2, c3)
    }

    public mutating func nextUInt32() -> UInt32 {
        let words = PhiloxRandom.block(counter: (position / 4, 0), key: key)
        defer { position += 1 }
        switch position % 4 {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        default: return words.3
        }
    }

    /// Uniform in [0, 1) with 24 random bits (every float of that grid equally likely).
    public mutating func uniform() -> Float {
        Float(nextUInt32() >> 8) * 0x1p-24
    }

    /// Uniform integer in 0 ..< bound, without modulo bias.
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "integer(below: \(bound))")
        let limit = UInt64(1) << 32, threshold = limit - limit % UInt64(bound)
        while true {
            let word = UInt64(nextUInt32())
            if word < threshold { return Int(word % UInt64(bound)) }
        }
    }

    /// Standard normal samples by the Box–Muller transform, two per pair of words.
    public mutating func fillNormal(_ target: UnsafeMutableBufferPointer<Float>) {
        var i = 0
        while i < target.count {
            let u1 = (Double(nextUInt32() >> 8) + 1) * 0x1p-24  // (0, 1]: log is finite
            let u2 = Double(nextUInt32() >> 8) * 0x1p-24
            let radius = (-2 * Foundation.log(u1)).squareRoot(), angle = 2 * Double.pi * u2
            target[i] = Float(radius * Foundation.cos(angle))
            if i + 1 < target.count { target[i + 1] = Float(radius * Foundation.sin(angle)) }
            i += 2
        }
    }

    public mutating func normal(shape: [Int]) -> Tensor {
        let out = Tensor(zeros: shape)
        fillNormal(UnsafeMutableBufferPointer(start: out.pointer, count: out.count))
        return out
    }

    public mutating func uniform(shape: [Int]) -> Tensor {
        let out = Tensor(zeros: shape)
        for i in 0..<out.count { out.pointer[i] = uniform() }
        return out
    }

    /// A uniformly random permutation of 0 ..< count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, integer(below: i + 1)) }
        return order
    }
}
