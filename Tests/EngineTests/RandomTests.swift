import XCTest
@testable import Engine

final class RandomTests: XCTestCase {
    /// Known-answer vectors of Philox-4x32-10 from the Random123 distribution (kat_vectors).
    func testPhiloxKnownAnswers() {
        func words(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> [UInt32] {
            let block = PhiloxRandom.block(
                counter: (UInt64(counter.0) | UInt64(counter.1) << 32, UInt64(counter.2) | UInt64(counter.3) << 32),
                key: UInt64(key.0) | UInt64(key.1) << 32)
            return [block.0, block.1, block.2, block.3]
        }
        XCTAssertEqual(words((0, 0, 0, 0), key: (0, 0)), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        XCTAssertEqual(
            words((0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), key: (0xffff_ffff, 0xffff_ffff)),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        XCTAssertEqual(
            words((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0)),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    func testStreamsAreReproducibleAndRestorable() {
        var first = PhiloxRandom(seed: 42), second = PhiloxRandom(seed: 42)
        let a = (0..<10).map { _ in first.nextUInt32() }
        XCTAssertEqual(a, (0..<10).map { _ in second.nextUInt32() })
        var other = PhiloxRandom(seed: 43)
        XCTAssertNotEqual(a, (0..<10).map { _ in other.nextUInt32() })
        // Restoring the saved state continues the same stream.
        var saved = first
        let continued = (0..<5).map { _ in first.uniform() }
        let data = try! JSONEncoder().encode(saved)
        saved = try! JSONDecoder().decode(PhiloxRandom.self, from: data)
        XCTAssertEqual(continued, (0..<5).map { _ in saved.uniform() })
        XCTAssertNotEqual(first.substream(1), first.substream(2))
    }

    func testDistributions() {
        var rng = PhiloxRandom(seed: 1)
        let normal = rng.normal(shape: [20000]).scalars.map(Double.init)
        let mean = normal.reduce(0, +) / 20000, variance = normal.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20000
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        let uniform = rng.uniform(shape: [20000]).scalars
        XCTAssertTrue(uniform.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(Double(uniform.reduce(0, +)) / 20000, 0.5, accuracy: 0.01)
        let order = rng.permutation(100)
        XCTAssertEqual(order.sorted(), Array(0..<100))
        XCTAssertNotEqual(order, Array(0..<100))
    }
}
