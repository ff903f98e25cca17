import Distributed

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

    /// How a bucket's sums travel through the allreduce: each sum as one 32-bit integer, one 64-bit
    /// integer, or both 64-bit limbs.
    enum Transport: Equatable {
        case int32, int64, twoLimbs

        var bytesPerValue: Int {
            switch self {
            case .int32: return 4
            case .int64: return 8
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

    /// The narrowest transport in which the allreduce of sums at most `widest` bits wide (|sum| < 2^widest)
    /// over `ranks` ranks cannot wrap, whatever order MPI adds them in: every partial sum stays below
    /// 2^(widest + growth), growth = ceil(log2(ranks)). Nil when even two limbs could wrap.
    static func transport(widest: Int, ranks: Int) -> Transport? {
        let growth = Int.bitWidth - (ranks - 1).leadingZeroBitCount
        if widest + growth <= 31 { return .int32 }
        if widest + growth <= 62 { return .int64 }
        return widest + growth <= largestReducedBits ? .twoLimbs : nil
    }

    /// Starts the allreduce of `range` in `transport`, packing each sum into the memory of `high` first
    /// unless both limbs travel (a 32-bit sum `i` into the first half of the range's memory, 4·(i - start)
    /// bytes in, over values already packed). Throws rather than wrap if a sum does not fit the transport
    /// (the widest sum of every rank should have excluded it).
    func startSum(_ range: Range<Int>, in transport: Transport, over collective: Collective) throws -> [PendingSum] {
        switch transport {
        case .int32:
            let narrow = narrowSums(range)
            for i in range {
                guard let packed = Int32(exactly: high[i] << 32 | low[i]) else { throw wrapped(range, transport) }
                narrow[i - range.lowerBound] = packed
            }
            return [try collective.startSum(narrow)]
        case .int64:
            for i in range {
                guard high[i] >> 31 == 0 || high[i] >> 31 == -1 else { throw wrapped(range, transport) }
                high[i] = high[i] << 32 | low[i]
            }
            return [try collective.startSum(buffer(high, range))]
        case .twoLimbs:
            return [try collective.startSum(buffer(high, range)), try collective.startSum(buffer(low, range))]
        }
    }

    private func narrowSums(_ range: Range<Int>) -> UnsafeMutableBufferPointer<Int32> {
        let start = UnsafeMutableRawPointer(high + range.lowerBound).assumingMemoryBound(to: Int32.self)
        return UnsafeMutableBufferPointer(start: start, count: range.count)
    }

    private func buffer<Element>(_ base: UnsafeMutablePointer<Element>, _ range: Range<Int>)
        -> UnsafeMutableBufferPointer<Element>
    {
        UnsafeMutableBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    private func wrapped(_ range: Range<Int>, _ transport: Transport) -> TrainingError {
        TrainingError(
            message: "a fixed-point gradient sum in values \(range) does not fit the \(transport) transport "
                + "its bucket's widest sum chose: it would have wrapped")
    }

    /// Reduced sum `index` of the bucket `range`, carried in `transport`, as a Double (rounded once, to
    /// nearest), in units of the grid.
    func reducedValue(at index: Int, of range: Range<Int>, from transport: Transport) -> Double {
        switch transport {
        case .int32: return Double(narrowSums(range)[index - range.lowerBound])
        case .int64: return Double(high[index])
        case .twoLimbs:
            let carried = Int128(high[index]) + Int128(low[index] >> 32)
            return Double(carried << 32 | Int128(low[index] & Self.lowMask))
        }
    }
}
