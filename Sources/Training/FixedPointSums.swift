import Distributed
import Engine

/// Exact sums of gradient values on the fixed grid 2^-40, kept as two 64-bit limbs per value so that no
/// sum wraps: value · 2^40 = high · 2^32 + low, with `low` holding the 32 low bits.
///
/// The grid never changes, so every micro-batch's values round the same way wherever they are computed;
/// integer addition is exact and associative, so the sums do not depend on which rank added what or in
/// which order. What does depend on the world size is only how the sums travel: before a bucket's
/// allreduce the ranks agree on the widest local sum (an `MPI_MAX` pre-pass) and pick the narrowest
/// `Transport` in which the world's sum of such values cannot wrap. The decoded values are the same
/// whichever they pick.
final class FixedPointSums {
    static let scale = 0x1p40
    /// |gradient| · 2^40 stays below 2^87, so one value adds less than 2^55 to `high`.
    static let largestValue = 0x1p47
    /// The exact range of a reduced sum with two limbs (2^94 on the grid, ±2^54 in value).
    static let largestReducedBits = 94
    private static let lowMask: Int64 = 0xFFFF_FFFF

    private(set) var high = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    private(set) var low = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    private var capacity = 0

    /// How a bucket's sums travel through the allreduce: each sum as one integer of 1 to 8 bytes (4 is
    /// int32, 8 int64; the others are summed by an MPI operation of our own), or both 64-bit limbs.
    enum Transport: Equatable {
        case packed(bytes: Int)
        case twoLimbs

        var bytesPerValue: Int {
            switch self {
            case .packed(let bytes): return bytes
            case .twoLimbs: return 16
            }
        }
    }

    deinit {
        high.deallocate()
        low.deallocate()
    }

    /// Zeroes the first `count` sums (growing the buffers if needed).
    func reset(count: Int) {
        if capacity < count {
            high.deallocate()
            low.deallocate()
            high = .allocate(capacity: count)
            low = .allocate(capacity: count)
            capacity = count
        }
        high.initialize(repeating: 0, count: count)
        low.initialize(repeating: 0, count: count)
    }

    /// Adds `values[range]`, each rounded to the grid, to their sums. Returns the non-finite values skipped
    /// (when `skippingNonFinite`) and the first value, by index, outside the exact range (the sums past it
    /// then hold part of the call's values: the step fails).
    func add(
        _ values: UnsafePointer<Float>, _ range: Range<Int>, skippingNonFinite: Bool
    ) -> (
        skipped: Int, rejected: Float?
    ) {
        let blocks = Self.inBlocks(range) { block -> (skipped: Int, rejected: Float?) in
            var skipped = 0
            // Locals, which the stores through the sums cannot change: the class's own would be read again
            // for each value.
            let high = high, low = low
            for i in block {
                let added: Bool
                if let whole = Self.onGrid(values[i]) {
                    added = Self.add(onGrid: whole, to: (high, low), at: i)
                } else if skippingNonFinite && !values[i].isFinite {
                    skipped += 1
                    continue
                } else {
                    added = add(Double(values[i]), at: i)
                }
                if !added { return (skipped, values[i]) }
            }
            return (skipped, nil)
        }
        return (blocks.reduce(0) { $0 + $1.skipped }, blocks.lazy.compactMap(\.rejected).first)
    }

    /// `value` · 2^40 rounded half away from zero, the grid value `add(_:at:)` computes through a Double,
    /// here from the float's bits alone and without a branch that depends on the value (signs and sizes of
    /// gradients are too mixed to predict), nor a libm call (the baseline x86-64 has no rounding
    /// instruction). Nil for |value| ≥ 2^22 and non-finite values, which take the general path.
    @inline(__always)
    static func onGrid(_ value: Float) -> Int64? {
        let bits = value.bitPattern
        let exponent = Int(bits &>> 23 & 0xFF)
        // A biased exponent of 149 is 2^22; 255 is infinity or NaN.
        guard exponent < 149 else { return nil }
        let significand = Int64(bits & 0x7F_FFFF | 0x80_0000)
        // |value| · 2^40 = significand · 2^(exponent - 110): shifted up at most 38 places, so below 2^62, or
        // down, adding half of the last place kept first so that ties round away from zero. 62 places down
        // (or more: subnormals, read here with a wrong leading 1, go 110) leave 0, with the half positive.
        let up = max(exponent - 110, 0), down = min(max(110 - exponent, 0), 62)
        let magnitude = (significand &<< up + (1 &<< down) &>> 1) &>> down
        let negative = Int64(Int32(bitPattern: bits) &>> 31)
        return (magnitude ^ negative) - negative
    }

    /// Adds `value` rounded to the grid to sum `index`; false when it lies outside the exact range.
    func add(_ value: Double, at index: Int) -> Bool {
        let scaled = (value * Self.scale).rounded()
        // Also rejects NaN, which fails every comparison.
        guard abs(scaled) < Self.largestValue * Self.scale else { return false }
        if abs(scaled) < 0x1p62 {
            return Self.add(onGrid: Int64(scaled), to: (high, low), at: index)
        }
        // Both steps are exact: scaled is a whole number and the powers of two only move its exponent.
        let quotient = (scaled * 0x1p-32).rounded(.down)
        return Self.add(high: Int64(quotient), low: Int64(scaled - quotient * 0x1p32), to: (high, low), at: index)
    }

    /// Adds a value on the grid below 2^62 in magnitude to sum `index` of `sums`, split into its limbs.
    @inline(__always)
    private static func add(
        onGrid whole: Int64, to sums: (high: UnsafeMutablePointer<Int64>, low: UnsafeMutablePointer<Int64>),
        at index: Int
    ) -> Bool {
        add(high: whole &>> 32, low: whole & lowMask, to: sums, at: index)
    }

    /// Adds a value on the grid, split as high · 2^32 + low with 0 ≤ low < 2^32, to sum `index` of `sums`;
    /// false if `high` would overflow (possible only after many values of the general path's size).
    @inline(__always)
    private static func add(
        high highPart: Int64, low lowPart: Int64,
        to sums: (high: UnsafeMutablePointer<Int64>, low: UnsafeMutablePointer<Int64>), at index: Int
    ) -> Bool {
        let (sum, overflow) = sums.high[index].addingReportingOverflow(highPart)
        guard !overflow else { return false }
        sums.high[index] = sum
        // At most 2^32 - 1 per micro-batch: no wrap before 2^31 micro-batches.
        sums.low[index] &+= lowPart
        return true
    }

    /// Moves the carries of `low` into `high` and returns the bit width of the largest |sum| in `range`
    /// (nil if a carry overflows).
    func normalize(_ range: Range<Int>) -> Int? {
        let widths = Self.inBlocks(range) { block -> Int? in
            var widest = 0
            for i in block {
                let (sum, overflow) = high[i].addingReportingOverflow(low[i] >> 32)
                guard !overflow else { return nil }
                high[i] = sum
                low[i] &= Self.lowMask
                let width =
                    Self.fitsOneWord(high: high[i])
                    ? 64 - (high[i] << 32 | low[i]).magnitude.leadingZeroBitCount
                    : 96 - high[i].magnitude.leadingZeroBitCount
                widest = max(widest, width)
            }
            return widest
        }
        return widths.contains(nil) ? nil : widths.lazy.compactMap { $0 }.max() ?? 0
    }

    /// Whether a normalized sum with this `high` limb fits one int64 (high · 2^32 + low).
    private static func fitsOneWord(high: Int64) -> Bool { high >> 31 == 0 || high >> 31 == -1 }

    /// The narrowest transport in which the allreduce of sums at most `widest` bits wide (|sum| < 2^widest)
    /// over `ranks` ranks cannot wrap, whatever order MPI adds them in: every partial sum stays below
    /// 2^(widest + growth), growth = ceil(log2(ranks)), and needs one more bit for its sign. Nil when even
    /// two limbs could wrap.
    static func transport(widest: Int, ranks: Int) -> Transport? {
        let bits = widest + (Int.bitWidth - (ranks - 1).leadingZeroBitCount)
        if bits < 64 { return .packed(bytes: bits / 8 + 1) }
        return bits <= largestReducedBits ? .twoLimbs : nil
    }

    /// Starts the allreduce of `range` in `transport`. Packed sums are written over the range's own
    /// memory in `high`, little-endian, sum `i` at 8·start + bytes·(i - start) as a whole 8-byte word:
    /// it ends by 8·(i + 1), so it never reaches a sum not yet packed. Throws rather than wrap if a sum
    /// does not fit (the widest sum of every rank should have excluded it).
    func startSum(_ range: Range<Int>, in transport: Transport, over collective: Collective) throws -> [PendingSum] {
        guard case .packed(let bytes) = transport else {
            return [try collective.startSum(buffer(high, range)), try collective.startSum(buffer(low, range))]
        }
        let packed = UnsafeMutableRawPointer(high + range.lowerBound)
        for i in range {
            let sum = high[i] << 32 | low[i]
            guard Self.fitsOneWord(high: high[i]), sum >> (8 * bytes - 1) == 0 || sum >> (8 * bytes - 1) == -1 else {
                throw TrainingError(
                    message: "a fixed-point gradient sum in values \(range) does not fit the \(bytes) bytes its "
                        + "bucket's widest sum chose: it would have wrapped")
            }
            // A whole word: its bytes past the sum's own lie where the next sums will be packed.
            packed.storeBytes(of: sum.littleEndian, toByteOffset: bytes * (i - range.lowerBound), as: Int64.self)
        }
        let values = UnsafeMutableRawBufferPointer(start: packed, count: bytes * range.count)
        return [try collective.startSum(packed: values, width: bytes)]
    }

    private func buffer(_ base: UnsafeMutablePointer<Int64>, _ range: Range<Int>) -> UnsafeMutableBufferPointer<Int64> {
        UnsafeMutableBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// Writes the reduced sums of the bucket `range`, carried in `transport`, times `factor` into `output`.
    func writeReduced(
        _ range: Range<Int>, from transport: Transport, times factor: Double, into output: UnsafeMutablePointer<Float>
    ) {
        _ = Self.inBlocks(range) { block in
            for i in block { output[i] = Float(reducedValue(at: i, of: range, from: transport) * factor) }
        }
    }

    /// Reduced sum `index` of the bucket `range`, carried in `transport`, as a Double (rounded once, to
    /// nearest), in units of the grid.
    func reducedValue(at index: Int, of range: Range<Int>, from transport: Transport) -> Double {
        guard case .packed(let bytes) = transport else {
            let (carried, overflow) = high[index].addingReportingOverflow(low[index] >> 32)
            if !overflow && Self.fitsOneWord(high: carried) {
                // The common case in one word: Int128's conversion to Double is many times slower.
                return Double(carried << 32 | low[index] & Self.lowMask)
            }
            let wide = Int128(high[index]) + Int128(low[index] >> 32)
            return Double(wide << 32 | Int128(low[index] & Self.lowMask))
        }
        // 8 bytes from the sum's first: all inside the range's memory (see startSum), the sum in the lowest.
        let word = UnsafeRawPointer(high + range.lowerBound).loadUnaligned(
            fromByteOffset: bytes * (index - range.lowerBound), as: UInt64.self)
        let unused = 64 - 8 * bytes
        return Double(Int64(bitPattern: UInt64(littleEndian: word) << unused) >> unused)
    }

    /// Sums per block of the engine's threads: a block's passes over its values are cheap against handing
    /// it out, and the threads cannot change a bit, as every value has its own sum and integers add exactly.
    private static let blockValues = 1 << 14

    /// `body` over `range` cut into blocks of `blockValues` on the engine's threads; the blocks' results
    /// in order.
    private static func inBlocks<Result>(_ range: Range<Int>, _ body: (Range<Int>) -> Result) -> [Result] {
        let blocks = (range.count + blockValues - 1) / blockValues
        return [Result](unsafeUninitializedCapacity: blocks) { results, initialized in
            parallelRanges(range.count, grain: blockValues) { block in
                let values = (range.lowerBound + block.lowerBound)..<(range.lowerBound + block.upperBound)
                (results.baseAddress! + block.lowerBound / blockValues).initialize(to: body(values))
            }
            initialized = blocks
        }
    }
}
