import Distributed
import Engine
import Glibc

/// Exact sums of gradient values on the fixed grid 2^-40. Each sum is a signed 64-bit word and a count of
/// the times it wrapped: value · 2^40 = carries · 2^64 + sums. Gradients stay far below 2^23 in value,
/// where a word first wraps, so the carries are zero but for the rare sums that did (their ranges are
/// kept, to be cleared again): the hot loop reads and writes one word per value, half the memory of two
/// limbs, and a step's first micro-batch stores its values instead of adding them, so nothing is
/// cleared between steps.
///
/// The grid never changes, so every micro-batch's values round the same way wherever they are computed;
/// integer addition is exact and associative, so the sums do not depend on which rank added what or in
/// which order. What does depend on the world size is only how the sums travel: before a bucket's
/// allreduce the ranks agree on the widest local sum (an `MPI_MAX` pre-pass) and pick the narrowest
/// `Transport` in which the world's sum of such values cannot wrap. The decoded values are the same
/// whichever they pick.
final class FixedPointSums {
    static let scale = 0x1p40
    /// |gradient| · 2^40 stays below 2^87, so one value adds less than 2^23 to the carries.
    static let largestValue = 0x1p47
    /// The exact range of a sum reduced in two limbs (2^94 on the grid, ±2^54 in value).
    static let largestReducedBits = 94
    private static let lowMask: Int64 = 0xFFFF_FFFF

    private(set) var sums = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    /// Zero outside `carriedRanges`. From `calloc`, whose large blocks are fresh pages the kernel zeroes
    /// when first touched: the carries of sums that never wrap take no memory.
    private(set) var carries = FixedPointSums.zeroedWords(1)
    private var capacity = 0
    /// Where `carries` was written since the last `prepare`: by a wrapped sum, or split into two limbs.
    private var carriedRanges: [Range<Int>] = []

    /// How a bucket's sums travel through the allreduce: not at all (one rank's sums are the reduced
    /// ones), each sum as one integer of 1 to 8 bytes (4 is int32, 8 int64; the others are summed by an
    /// MPI operation of our own), or as two 64-bit limbs.
    enum Transport: Equatable {
        case local
        case packed(bytes: Int)
        case twoLimbs

        var bytesPerValue: Int {
            switch self {
            case .local: return 0
            case .packed(let bytes): return bytes
            case .twoLimbs: return 16
            }
        }
    }

    deinit {
        sums.deallocate()
        free(carries)
    }

    private static func zeroedWords(_ count: Int) -> UnsafeMutablePointer<Int64> {
        guard let words = calloc(count, MemoryLayout<Int64>.stride) else {
            fatalError("out of memory for \(count) fixed-point carries")
        }
        return words.bindMemory(to: Int64.self, capacity: count)
    }

    /// Makes room for `count` sums and clears the last step's carries. The sums themselves are set by the
    /// step's first `add` (`storing`) or by `clear`.
    func prepare(count: Int) {
        if capacity < count {
            sums.deallocate()
            free(carries)
            sums = .allocate(capacity: count)
            sums.initialize(repeating: 0, count: count)
            carries = Self.zeroedWords(count)
            capacity = count
        } else {
            for range in carriedRanges { (carries + range.lowerBound).update(repeating: 0, count: range.count) }
        }
        carriedRanges = []
    }

    /// Sets the sums in `range` to zero.
    func clear(_ range: Range<Int>) {
        (sums + range.lowerBound).update(repeating: 0, count: range.count)
    }

    /// Adds `values[range]`, each rounded to the grid, to their sums, or with `storing` makes them the
    /// sums. Returns the non-finite values skipped (when `skippingNonFinite`; stored as zero) and the
    /// first value, by index, outside the exact range (the sums past it then hold part of the call's
    /// values: the step fails).
    func add(
        _ values: UnsafePointer<Float>, _ range: Range<Int>, storing: Bool, skippingNonFinite: Bool
    ) -> (
        skipped: Int, rejected: Float?
    ) {
        let blocks = Self.inBlocks(range) { block -> BlockOutcome in
            var outcome = BlockOutcome()
            // Locals, which the stores through the sums cannot change: the class's own would be read again
            // for each value.
            let sums = sums, carries = carries
            for i in block {
                if let whole = Self.onGrid(values[i]) {
                    let (sum, wrapped) = (storing ? 0 : sums[i]).addingReportingOverflow(whole)
                    sums[i] = sum
                    if wrapped {
                        // The true sum lies 2^64 beyond the wrapped word, on the side of the value added.
                        carries[i] &+= whole < 0 ? -1 : 1
                        outcome.carried = block
                    }
                    continue
                }
                if storing { sums[i] = 0 }
                if skippingNonFinite && !values[i].isFinite {
                    outcome.skipped += 1
                    continue
                }
                guard Self.add(Double(values[i]), at: i, to: (sums, carries)) else {
                    outcome.rejected = values[i]
                    return outcome
                }
                outcome.carried = block
            }
            return outcome
        }
        carriedRanges += blocks.compactMap(\.carried)
        return (blocks.reduce(0) { $0 + $1.skipped }, blocks.lazy.compactMap(\.rejected).first)
    }

    private struct BlockOutcome {
        var skipped = 0
        var rejected: Float?
        /// The block, if it wrote carries.
        var carried: Range<Int>?
    }

    /// `value` · 2^40 rounded half away from zero, the grid value `add(_:at:)` computes, without its libm
    /// call (baseline x86-64 has no rounding instruction) and without a branch that depends on the value
    /// (signs and sizes of gradients are too mixed to predict): a half with the value's sign is added and
    /// the conversion truncates. That is exact where rounding matters: below 2^24 the scaled value and the
    /// half add without rounding, and above it the scaled value (24 significant bits, last place at least
    /// 2^1) is a whole even number, so the half is rounded off again to it. Nil for |value| ≥ 2^22 and
    /// non-finite values, which take the general path.
    @inline(__always)
    static func onGrid(_ value: Float) -> Int64? {
        // Also rejects NaN, which fails every comparison.
        guard abs(value) < 0x1p22 else { return nil }
        let scaled = Double(value) * scale
        return Int64(scaled + Double(signOf: scaled, magnitudeOf: 0.5))
    }

    /// Adds `value` rounded to the grid to sum `index`; false when it lies outside the exact range.
    func add(_ value: Double, at index: Int) -> Bool {
        guard Self.add(value, at: index, to: (sums, carries)) else { return false }
        carriedRanges.append(index..<(index + 1))
        return true
    }

    /// The general path of `add`, for any size of value: false, with the sum unchanged, when `value` lies
    /// outside the exact range. The caller records the carries it may write.
    private static func add(
        _ value: Double, at index: Int,
        to words: (sums: UnsafeMutablePointer<Int64>, carries: UnsafeMutablePointer<Int64>)
    ) -> Bool {
        let scaled = (value * scale).rounded()
        // Also rejects NaN, which fails every comparison.
        guard abs(scaled) < largestValue * scale else { return false }
        // Exact: scaled is a whole number below 2^87, the powers of two only move its exponent, and the
        // remainder, below 2^64, is a multiple of scaled's last place that fits 53 bits.
        let wraps = (scaled * 0x1p-64).rounded(.down)
        let word = Int64(bitPattern: UInt64(scaled - wraps * 0x1p64))
        // A word with its top bit set stands for itself less 2^64: one more wrap.
        var carry = Int64(wraps) + (word < 0 ? 1 : 0)
        let (sum, wrapped) = words.sums[index].addingReportingOverflow(word)
        if wrapped { carry += word < 0 ? -1 : 1 }
        let (carried, overflow) = words.carries[index].addingReportingOverflow(carry)
        guard !overflow else { return false }
        words.sums[index] = sum
        words.carries[index] = carried
        return true
    }

    /// The bit width of the largest |sum| in `range`.
    func widestSum(_ range: Range<Int>) -> Int {
        let carried = !carriedRanges.isEmpty
        let widths = Self.inBlocks(range) { block -> Int in
            var widest = 0
            for i in block {
                let width =
                    carried && carries[i] != 0
                    ? 128 - wideSum(at: i).magnitude.leadingZeroBitCount
                    : 64 - sums[i].magnitude.leadingZeroBitCount
                widest = max(widest, width)
            }
            return widest
        }
        return widths.max() ?? 0
    }

    /// Sum `index` in one integer, carries included.
    private func wideSum(at index: Int) -> Int128 { Int128(carries[index]) << 64 + Int128(sums[index]) }

    /// The narrowest transport in which the allreduce of sums at most `widest` bits wide (|sum| < 2^widest)
    /// over `ranks` ranks cannot wrap, whatever order MPI adds them in: every partial sum stays below
    /// 2^(widest + growth), growth = ceil(log2(ranks)), and needs one more bit for its sign. Nil when even
    /// two limbs could wrap.
    static func transport(widest: Int, ranks: Int) -> Transport? {
        let bits = widest + (Int.bitWidth - (ranks - 1).leadingZeroBitCount)
        if bits < 64 { return .packed(bytes: bits / 8 + 1) }
        return bits <= largestReducedBits ? .twoLimbs : nil
    }

    /// Starts the allreduce of `range` in `transport`. Packed sums are written over the range's own memory
    /// in `sums`, little-endian, sum `i` at 8·start + bytes·(i - start) as a whole 8-byte word: it ends by
    /// 8·(i + 1), so it never reaches a sum not yet packed. Two limbs are high = sum >> 32, in `carries`,
    /// and the low 32 bits, in `sums`: the low limbs of up to 2^31 ranks add without a wrap. Throws rather
    /// than wrap if a sum does not fit (the widest sum of every rank should have excluded it).
    func startSum(_ range: Range<Int>, in transport: Transport, over collective: Collective) throws -> [PendingSum] {
        switch transport {
        case .local:
            return []
        case .twoLimbs:
            carriedRanges.append(range)
            for i in range {
                // |sum| < 2^94 (the transport's choice), so the carries are below 2^30: the high limb fits.
                carries[i] = carries[i] << 32 + sums[i] >> 32
                sums[i] &= Self.lowMask
            }
            return [try collective.startSum(buffer(carries, range)), try collective.startSum(buffer(sums, range))]
        case .packed(let bytes):
            let carried = !carriedRanges.isEmpty
            let packed = UnsafeMutableRawPointer(sums + range.lowerBound)
            for i in range {
                let sum = sums[i]
                guard !(carried && carries[i] != 0), sum >> (8 * bytes - 1) == 0 || sum >> (8 * bytes - 1) == -1
                else {
                    throw TrainingError(
                        message: "a fixed-point gradient sum in values \(range) does not fit the \(bytes) bytes "
                            + "its bucket's widest sum chose: it would have wrapped")
                }
                // A whole word: its bytes past the sum's own lie where the next sums will be packed.
                packed.storeBytes(of: sum.littleEndian, toByteOffset: bytes * (i - range.lowerBound), as: Int64.self)
            }
            let values = UnsafeMutableRawBufferPointer(start: packed, count: bytes * range.count)
            return [try collective.startSum(packed: values, width: bytes)]
        }
    }

    private func buffer(_ base: UnsafeMutablePointer<Int64>, _ range: Range<Int>) -> UnsafeMutableBufferPointer<Int64> {
        UnsafeMutableBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// Writes the reduced sums of the bucket `range`, carried in `transport`, times `factor` into `output`.
    func writeReduced(
        _ range: Range<Int>, from transport: Transport, times factor: Double, into output: UnsafeMutablePointer<Float>
    ) {
        let plainWords = transport == .local && carriedRanges.isEmpty
        _ = Self.inBlocks(range) { block in
            if plainWords {
                // The common case of one rank, kept apart so that the loop reads the sums alone.
                for i in block { output[i] = Float(Double(sums[i]) * factor) }
                return
            }
            for i in block { output[i] = Float(reducedValue(at: i, of: range, from: transport) * factor) }
        }
    }

    /// Reduced sum `index` of the bucket `range`, carried in `transport`, as a Double (rounded once, to
    /// nearest), in units of the grid.
    func reducedValue(at index: Int, of range: Range<Int>, from transport: Transport) -> Double {
        switch transport {
        case .local:
            // Int128's conversion to Double is many times slower than a word's.
            return carries[index] == 0 ? Double(sums[index]) : Double(wideSum(at: index))
        case .twoLimbs:
            let (carried, overflow) = carries[index].addingReportingOverflow(sums[index] >> 32)
            if !overflow && carried >> 31 == carried >> 63 {
                return Double(carried << 32 | sums[index] & Self.lowMask)
            }
            let wide = Int128(carries[index]) + Int128(sums[index] >> 32)
            return Double(wide << 32 | Int128(sums[index] & Self.lowMask))
        case .packed(let bytes):
            // 8 bytes from the sum's first: all inside the range's memory (see startSum), the sum in the lowest.
            let word = UnsafeRawPointer(sums + range.lowerBound).loadUnaligned(
                fromByteOffset: bytes * (index - range.lowerBound), as: UInt64.self)
            let unused = 64 - 8 * bytes
            return Double(Int64(bitPattern: UInt64(littleEndian: word) << unused) >> unused)
        }
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
