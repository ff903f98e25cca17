import Distributed

/// Exact sums of gradient values on the fixed grid 2^-40, kept as two 64-bit limbs per value so that no
/// sum wraps: value · 2^40 = high · 2^32 + low, with `low` holding the 32 low bits.
///
/// The grid never changes, so every micro-batch's values round the same way wherever they are computed;
/// integer addition is exact and associative, so the sums do not depend on which rank added what or in
/// which order. What does depend on the world size is only how the sums travel: before a bucket's
/// allreduce the ranks agree on the widest local sum (an `MPI_MAX` pre-pass); when the world's sum of
/// such values fits 62 bits the limbs are packed into one int64 per value, otherwise both limbs are
/// reduced. The decoded values are the same either way.
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

    /// Adds `value` rounded to the grid to sum `index`; false when it lies outside the exact range.
    func add(_ value: Double, at index: Int) -> Bool {
        let scaled = (value * Self.scale).rounded()
        // Also rejects NaN, which fails every comparison.
        guard abs(scaled) < Self.largestValue * Self.scale else { return false }
        let highPart: Int64, lowPart: Int64
        if abs(scaled) < 0x1p62 {
            let whole = Int64(scaled)
            (highPart, lowPart) = (whole >> 32, whole & Self.lowMask)
        } else {
            // Both steps are exact: scaled is a whole number and the powers of two only move its exponent.
            let quotient = (scaled * 0x1p-32).rounded(.down)
            (highPart, lowPart) = (Int64(quotient), Int64(scaled - quotient * 0x1p32))
        }
        let (sum, overflow) = high[index].addingReportingOverflow(highPart)
        guard !overflow else { return false }
        high[index] = sum
        // At most 2^32 - 1 per micro-batch: no wrap before 2^31 micro-batches.
        low[index] &+= lowPart
        return true
    }

    /// Moves the carries of `low` into `high` and returns the bit width of the largest |sum| in `range`
    /// (nil if a carry overflows).
    func normalize(_ range: Range<Int>) -> Int? {
        var widest = 0
        for i in range {
            let (sum, overflow) = high[i].addingReportingOverflow(low[i] >> 32)
            guard !overflow else { return nil }
            high[i] = sum
            low[i] &= Self.lowMask
            let width = high[i] == 0 ? 64 - low[i].leadingZeroBitCount : 96 - high[i].magnitude.leadingZeroBitCount
            widest = max(widest, width)
        }
        return widest
    }

    /// Limbs the allreduce of sums at most `widest` bits wide needs over `ranks` ranks: 1, 2, or nil
    /// when even two could wrap.
    static func limbs(widest: Int, ranks: Int) -> Int? {
        let growth = Int.bitWidth - (ranks - 1).leadingZeroBitCount
        if widest + growth <= 62 { return 1 }
        return widest + growth <= largestReducedBits ? 2 : nil
    }

    /// Starts the allreduce of `range` with `limbs` limbs; with one, packs each sum into `high` first.
    func startSum(_ range: Range<Int>, limbs: Int, over collective: Collective) throws -> [PendingSum] {
        let highs = UnsafeMutableBufferPointer(start: high + range.lowerBound, count: range.count)
        guard limbs == 2 else {
            for i in range { high[i] = high[i] << 32 | low[i] }
            return [try collective.startSum(highs)]
        }
        let lows = UnsafeMutableBufferPointer(start: low + range.lowerBound, count: range.count)
        return [try collective.startSum(highs), try collective.startSum(lows)]
    }

    /// Reduced sum `index` as a Double (rounded once, to nearest), in units of the grid.
    func reducedValue(at index: Int, limbs: Int) -> Double {
        guard limbs == 2 else { return Double(high[index]) }
        let carried = Int128(high[index]) + Int128(low[index] >> 32)
        return Double(carried << 32 | Int128(low[index] & Self.lowMask))
    }
}
