import Distributed
import Engine
import XCTest
@testable import Training

/// The deterministic reduction's sums stay exact where the single 64-bit integer of before wrapped
/// silently (past 2^23 in value, 2^63 on the 2^-40 grid), and fail loudly beyond their range.
final class FixedPointTests: XCTestCase {
    /// Runs 16 micro-batches of `values(k)` (all of one length) through a deterministic reducer on one
    /// rank.
    private func reduce(_ values: (Int) -> [Float]) throws -> [Float] {
        let count = values(0).count
        var layout = ParameterLayout()
        _ = layout.declare("w", shape: [count])
        let reducer = GradientReducer(
            deterministic: true, bucketValues: 1 << 10, toleratesNonFinite: false, collective: SingleProcess())
        reducer.begin(layout: layout, count: count, network: .discriminator, overlapping: false)
        for k in 0..<16 { try reducer.add(values(k)) }
        var mean = [Float](repeating: .nan, count: count)
        try reducer.finish(microbatches: 16, lastGradients: nil, into: &mean)
        return mean
    }

    func testSixteenMicrobatchesPastTheOldLimitAreExact() throws {
        // 16 x 1.5·2^21: a sum of 1.5·2^25, four times the old 2^23 limit; each value below the old
        // per-value check of 2^22, so before it wrapped without a word.
        let big: Float = 1.5 * 0x1p21
        // The last value: 7 x big, 2^-30, 7 x -big, 2^-30: the two small values survive the large ones.
        let mean = try reduce { k in [big, k % 2 == 0 ? -big : big, k % 8 == 7 ? 0x1p-30 : k < 8 ? big : -big] }
        XCTAssertEqual(mean, [big, 0, 0x1p-33])
    }

    /// The grid value read from a float's bits equals the one through a Double and `rounded()` at every
    /// exponent from the subnormals up to 2^22, ties included (odd significands at 2^-18, halves at many
    /// exponents); larger and non-finite values are left to the general path.
    func testGridValueFromTheBitsRoundsAsTheDoubleDoes() {
        var state: UInt32 = 12345
        let edges: [UInt32] = [0, 1, 2, 3, 0x40_0000, 0x40_0001, 0x60_0000, 0x7F_FFFF]
        var mismatches: [Float] = []
        for exponent: UInt32 in 0..<149 {
            var significands = edges
            for _ in 0..<8 {
                state = state &* 1_664_525 &+ 1_013_904_223
                significands.append(state >> 9)
            }
            for significand in significands {
                for sign: UInt32 in [0, 1] {
                    let value = Float(bitPattern: sign << 31 | exponent << 23 | significand)
                    if FixedPointSums.onGrid(value) != Int64((Double(value) * FixedPointSums.scale).rounded()) {
                        mismatches.append(value)
                    }
                }
            }
        }
        XCTAssertEqual(mismatches, [])
        for value: Float in [0x1p22, -0x1p22, 3e38, .infinity, -.infinity, .nan] {
            XCTAssertNil(FixedPointSums.onGrid(value), "\(value)")
        }
    }

    func testTheExactSumKeepsEveryBitOnTheGrid() {
        let sums = FixedPointSums()
        sums.prepare(count: 1)
        sums.clear(0..<1)
        for k in 0..<16 { XCTAssertTrue(sums.add(k % 2 == 0 ? 1.5 * 0x1p21 : 0x1p-30, at: 0)) }
        let widest = sums.widestSum(0..<1)
        XCTAssertEqual(widest, 65, "1.5·2^64 on the grid: more than one int64 can sum")
        XCTAssertEqual(FixedPointSums.transport(widest: widest, ranks: 1), .twoLimbs)
        // 8 · 1.5·2^21 · 2^40 + 8 · 2^-30 · 2^40, exactly (53 bits suffice).
        XCTAssertEqual(sums.reducedValue(at: 0, of: 0..<1, from: .local), 1.5 * 0x1p64 + 0x1p13)
    }

    /// Sums that wrap a word upwards, come back, and wrap it downwards: the hot path (values below 2^22)
    /// keeps the same words and carries as the general one, and the values read back are exact.
    func testWordsWrappingEitherWayCarryAsTheGeneralPathDoes() {
        let big: Float = 1.5 * 0x1p21
        // Partial sums in units of big: up to 4 (past 2^63 on the grid), back to 0, down to -4 and -5.
        let values = [Float](repeating: big, count: 4) + [Float](repeating: -big, count: 9)
        let hot = FixedPointSums(), general = FixedPointSums()
        hot.prepare(count: 1)
        general.prepare(count: 1)
        general.clear(0..<1)
        for (k, value) in values.enumerated() {
            let outcome = hot.add([value], 0..<1, storing: k == 0, skippingNonFinite: false)
            XCTAssertNil(outcome.rejected)
            XCTAssertTrue(general.add(Double(value), at: 0))
            XCTAssertEqual(hot.sums[0], general.sums[0], "after \(k + 1) values")
            XCTAssertEqual(hot.carries[0], general.carries[0], "after \(k + 1) values")
            let expected = Double(values[0...k].reduce(0) { $0 + Int($1 / big) }) * Double(big) * 0x1p40
            XCTAssertEqual(hot.reducedValue(at: 0, of: 0..<1, from: .local), expected, "after \(k + 1) values")
        }
        XCTAssertEqual(hot.carries[0], -1, "-5 · 1.5·2^61 lies one wrap below the word's range")
        hot.prepare(count: 1)
        XCTAssertEqual(hot.carries[0], 0, "a new step clears the carries")
    }

    /// The transport follows the world size: the fewest bytes that hold the sum of every rank's widest
    /// value with its sign, while 8 do, then two limbs.
    func testTransportFollowsTheWorldSize() {
        XCTAssertEqual(FixedPointSums.transport(widest: 31, ranks: 1), .packed(bytes: 4))
        XCTAssertEqual(FixedPointSums.transport(widest: 28, ranks: 8), .packed(bytes: 4))
        XCTAssertEqual(FixedPointSums.transport(widest: 29, ranks: 8), .packed(bytes: 5))
        XCTAssertEqual(FixedPointSums.transport(widest: 28, ranks: 9), .packed(bytes: 5))
        XCTAssertEqual(FixedPointSums.transport(widest: 44, ranks: 8), .packed(bytes: 6))
        XCTAssertEqual(FixedPointSums.transport(widest: 60, ranks: 8), .packed(bytes: 8))
        XCTAssertEqual(FixedPointSums.transport(widest: 61, ranks: 8), .twoLimbs)
        XCTAssertEqual(FixedPointSums.transport(widest: 0, ranks: 1), .packed(bytes: 1))
        XCTAssertEqual(FixedPointSums.transport(widest: 85, ranks: 512), .twoLimbs)
        XCTAssertNil(FixedPointSums.transport(widest: 86, ranks: 512))
    }

    /// 16 micro-batches, 2 on each of 8 simulated ranks: a bucket whose world sum fits 31 bits and a sign
    /// travels in 32 bits, one that would wrap them (but each rank's sum fits) in 40, one past the old 2^23
    /// limit in two limbs; no reduction wraps, and every mean equals the one rank's over the same
    /// micro-batches.
    func testEightRanksPickTheNarrowestTransportThatCannotWrap() throws {
        var layout = ParameterLayout()
        for name in ["fits 32 bits", "wraps 32 bits", "past 2^23"] { _ = layout.declare(name, shape: [2]) }
        // On the 2^-40 grid: 1.5·2^26 and 2^27 - 8, whose sums over 2 micro-batches are 28 bits wide and
        // over the world below 2^31; 1.5·2^28, whose world sum 1.5·2^32 would wrap 32 bits though each
        // rank's fits; 1.5·2^21 in value, summing to 1.5·2^25 past the old limit.
        let edge = Float(0x1p-40 * (0x1p27 - 8))
        let values: [Float] = [1.5 * 0x1p-14, -edge, 1.5 * 0x1p-12, -1.5 * 0x1p-12, 1.5 * 0x1p21, 0x1p-30]
        let world = IdenticalRanks(size: 8)
        let reducer = GradientReducer(
            deterministic: true, bucketValues: 2, toleratesNonFinite: false, collective: world)
        reducer.begin(layout: layout, count: values.count, network: .generator, overlapping: false)
        for _ in 0..<2 { try reducer.add(values) }
        var mean = [Float](repeating: .nan, count: values.count)
        try reducer.finish(microbatches: 16, lastGradients: nil, into: &mean)

        XCTAssertEqual(world.transports, ["4 bytes", "5 bytes", "Int64", "Int64"], "the buckets' allreduces")
        XCTAssertEqual(reducer.started.bytes, 2 * 4 + 2 * 5 + 2 * 16)
        XCTAssertEqual(try reduce { _ in values }, mean, "8 ranks and 1 give the same means")
        XCTAssertEqual(mean, values)
    }

    /// More values than one block of the engine's threads holds: on 1 and 3 threads the sums and their
    /// widest width equal those of adding the values one at a time, bit for bit; the value reported out of
    /// range is the first by index whichever block finished first, and skipped values are all counted.
    func testBlockedSumsMatchOneValueAtATimeOnAnyThreadCount() {
        let threadsBefore = ThreadPool.threads
        defer { ThreadPool.threads = threadsBefore }
        let count = 5 * (1 << 14) + 123
        let values = (0..<count).map { Float(sin(Double($0)) * 0x1p12) }
        let reference = FixedPointSums()
        reference.prepare(count: count)
        reference.clear(0..<count)
        for _ in 0..<3 { for i in 0..<count { XCTAssertTrue(reference.add(Double(values[i]), at: i)) } }
        let referenceWidth = reference.widestSum(0..<count)
        for threads in [1, 3] {
            ThreadPool.threads = threads
            let sums = FixedPointSums()
            sums.prepare(count: count)
            for round in 0..<3 {
                let outcome = values.withUnsafeBufferPointer {
                    sums.add($0.baseAddress!, 0..<count, storing: round == 0, skippingNonFinite: false)
                }
                XCTAssertEqual(outcome.skipped, 0)
                XCTAssertNil(outcome.rejected)
            }
            XCTAssertEqual(sums.widestSum(0..<count), referenceWidth, "\(threads) threads")
            XCTAssertTrue(
                (0..<count).allSatisfy {
                    sums.sums[$0] == reference.sums[$0] && sums.carries[$0] == reference.carries[$0]
                },
                "\(threads) threads")

            var broken = values
            broken[3 * (1 << 14) + 5] = .nan
            broken[(1 << 14) + 7] = -.infinity
            let strict = broken.withUnsafeBufferPointer {
                sums.add($0.baseAddress!, 0..<count, storing: false, skippingNonFinite: false)
            }
            XCTAssertEqual(strict.rejected, -.infinity, "\(threads) threads")
            let tolerant = broken.withUnsafeBufferPointer {
                sums.add($0.baseAddress!, 0..<count, storing: false, skippingNonFinite: true)
            }
            XCTAssertEqual(tolerant.skipped, 2, "\(threads) threads")
            XCTAssertNil(tolerant.rejected)
        }
    }

    func testValuesBeyondTheRangeFailLoudly() {
        XCTAssertThrowsError(try reduce { _ in [1e30, 0, 0] }) { error in
            XCTAssertTrue("\(error)".contains("outside the deterministic fixed-point range"), "\(error)")
        }
    }
}

/// `size` ranks that all hold the same values: a sum multiplies each value by the size, failing the test
/// if that wraps in the element type or packed width, as MPI's would silently; the maximum is the value
/// itself.
private final class IdenticalRanks: Collective {
    let size: Int
    /// The element types (or packed widths) of the sums started, in order.
    private(set) var transports: [String] = []
    init(size: Int) { self.size = size }
    var rank: Int { 0 }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        for i in values.indices { values[i] *= Float(size) }
    }
    func sum(_ values: UnsafeMutableBufferPointer<Int64>) throws {
        for i in values.indices { values[i] = multiplied(values[i], bytes: 8) }
    }
    func sum(_ values: inout [Double]) throws { for i in values.indices { values[i] *= Double(size) } }
    func max(_ values: inout [Int64]) throws {}
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum {
        try sum(values)
        return record("\(Float.self)")
    }
    func startSum(_ values: UnsafeMutableBufferPointer<Int64>) throws -> PendingSum {
        try sum(values)
        return record("\(Int64.self)")
    }
    func startSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingSum {
        for start in stride(from: 0, to: values.count, by: width) {
            var word: UInt64 = 0
            let slot = UnsafeMutableRawBufferPointer(rebasing: values[start..<start + width])
            withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(slot)) }
            let unused = 64 - 8 * width
            let product = multiplied(Int64(bitPattern: UInt64(littleEndian: word) << unused) >> unused, bytes: width)
            withUnsafeBytes(of: product.littleEndian) { slot.copyBytes(from: $0.prefix(width)) }
        }
        return record("\(width) bytes")
    }
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    func allgather(bytes: [UInt8]) throws -> [[UInt8]] { Array(repeating: bytes, count: size) }
    func allgather(unevenBytes: [UInt8]) throws -> [[UInt8]] { Array(repeating: unevenBytes, count: size) }
    func barrier() throws {}

    /// `value` times the size, which must fit `bytes` bytes.
    private func multiplied(_ value: Int64, bytes: Int) -> Int64 {
        let (product, wrapped) = value.multipliedReportingOverflow(by: Int64(size))
        XCTAssertFalse(
            wrapped || product >> (8 * bytes - 1) != product >> 63, "\(value) x \(size) wraps in \(bytes) bytes")
        return product
    }

    private func record(_ transport: String) -> PendingSum {
        transports.append(transport)
        return Completed()
    }

    private struct Completed: PendingSum {
        func wait() throws {}
        func progress() throws -> Bool { true }
    }
}
