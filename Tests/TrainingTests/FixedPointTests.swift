import Distributed
import Engine
import XCTest
@testable import Training

/// The deterministic reduction's sums stay exact where the single 64-bit integer of before wrapped
/// silently (past 2^23 in value, 2^63 on the 2^-40 grid), and fail loudly beyond their range.
final class FixedPointTests: XCTestCase {
    private let layout: ParameterLayout = {
        var layout = ParameterLayout()
        _ = layout.declare("w", shape: [3])
        return layout
    }()

    /// Runs 16 micro-batches of `values(k)` through a deterministic reducer on one rank.
    private func reduce(_ values: (Int) -> [Float]) throws -> [Float] {
        let reducer = GradientReducer(
            deterministic: true, bucketValues: 1 << 10, toleratesNonFinite: false, collective: SingleProcess())
        reducer.begin(layout: layout, count: 3, network: .discriminator, overlapping: false)
        for k in 0..<16 { try reducer.add(values(k)) }
        var mean = [Float](repeating: .nan, count: 3)
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

    func testTheExactSumKeepsEveryBitOnTheGrid() {
        let sums = FixedPointSums()
        sums.reset(count: 1)
        for k in 0..<16 { XCTAssertTrue(sums.add(k % 2 == 0 ? 1.5 * 0x1p21 : 0x1p-30, at: 0)) }
        let widest = sums.normalize(0..<1)!
        XCTAssertEqual(widest, 65, "1.5·2^64 on the grid: more than one int64 can sum")
        XCTAssertEqual(FixedPointSums.limbs(widest: widest, ranks: 1), 2)
        // 8 · 1.5·2^21 · 2^40 + 8 · 2^-30 · 2^40, exactly (53 bits suffice).
        XCTAssertEqual(sums.reducedValue(at: 0, limbs: 2), 1.5 * 0x1p64 + 0x1p13)
    }

    /// The limbs follow the world size: one while the sum of every rank's widest value fits 62 bits.
    func testLimbsFollowTheWorldSize() {
        XCTAssertEqual(FixedPointSums.limbs(widest: 59, ranks: 8), 1)
        XCTAssertEqual(FixedPointSums.limbs(widest: 60, ranks: 8), 2)
        XCTAssertEqual(FixedPointSums.limbs(widest: 62, ranks: 1), 1)
        XCTAssertEqual(FixedPointSums.limbs(widest: 85, ranks: 512), 2)
        XCTAssertNil(FixedPointSums.limbs(widest: 86, ranks: 512))
    }

    func testValuesBeyondTheRangeFailLoudly() {
        XCTAssertThrowsError(try reduce { _ in [1e30, 0, 0] }) { error in
            XCTAssertTrue("\(error)".contains("outside the deterministic fixed-point range"), "\(error)")
        }
    }
}
