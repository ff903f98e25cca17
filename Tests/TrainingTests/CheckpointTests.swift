import XCTest
@testable import Training

final class CheckpointTests: XCTestCase {
    private func sample() -> Checkpoint {
        let state = TrainingState(config: .tiny, configHash: TrainingConfig.tiny.hash, step: 3, imagesShown: 24, dataPosition: 24, resolution: 4, phase: .stabilize, adamGeneratorStep: 3,
                                  adamDiscriminatorStep: 3, randomScheme: "test",
                                  tensors: [.init(section: .g, name: "w", shape: [2, 2], offset: 0)])
        return Checkpoint(state: state, buffers: [.g: [1, 2, 3, 4], .d: [5, 6]])
    }

    func testRoundTrip() throws {
        let bytes = sample().serialized()
        let parsed = try Checkpoint.parse(bytes, path: "x.ckpt")
        XCTAssertEqual(parsed.state, sample().state)
        XCTAssertEqual(parsed.buffers, sample().buffers)
    }

    /// Truncation at any point, and any flipped byte, is reported with the file name; never trusted.
    func testCorruptionIsDetected() {
        let bytes = sample().serialized()
        for length in stride(from: 0, to: bytes.count, by: 7) {
            XCTAssertThrowsError(try Checkpoint.parse(Array(bytes[0..<length]), path: "cut.ckpt"), "length \(length)") {
                XCTAssertTrue("\($0)".hasPrefix("cut.ckpt: "), "\($0)")
            }
        }
        for position in stride(from: 0, to: bytes.count, by: 5) {
            var flipped = bytes
            flipped[position] ^= 0x10
            XCTAssertThrowsError(try Checkpoint.parse(flipped, path: "flip.ckpt"), "byte \(position)") {
                XCTAssertTrue("\($0)".hasPrefix("flip.ckpt: "), "\($0)")
            }
        }
    }

    /// Tensor tables with sizes that overflow or go negative are rejected, not trusted (found by fuzzing).
    func testImpossibleTensorTableIsRejected() {
        for (shape, offset) in [([4_294_967_296, 4_294_967_296], 0), ([1], Int.max), ([-3, 5], 0), ([2], -1)] {
            var checkpoint = sample()
            checkpoint.state.tensors = [.init(section: .g, name: "w", shape: shape, offset: offset)]
            XCTAssertThrowsError(try Checkpoint.parse(checkpoint.serialized(), path: "table.ckpt"), "\(shape) at \(offset)") {
                XCTAssertEqual("\($0)", "table.ckpt: tensor 'w' lies outside section 'g'")
            }
        }
    }

    func testOtherVersionIsNamed() {
        var bytes = sample().serialized()
        bytes[8] = 9
        XCTAssertThrowsError(try Checkpoint.parse(bytes, path: "old.ckpt")) {
            XCTAssertEqual("\($0)", "old.ckpt: checkpoint format version 9; this build reads version 1")
        }
    }
}
