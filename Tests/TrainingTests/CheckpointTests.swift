import CheckpointFile
import XCTest
@testable import Training

final class CheckpointTests: XCTestCase {
    private func sample() -> Checkpoint {
        let state = TrainingState(
            config: .tiny, configHash: TrainingConfig.tiny.hash, step: 3, imagesShown: 24, dataPosition: 24,
            resolution: 4, phase: .stabilize, adamGeneratorStep: 3,
            adamDiscriminatorStep: 3, randomScheme: "test",
            tensors: [.init(section: .g, name: "w", shape: [2, 2], offset: 0)])
        return Checkpoint(state: state, buffers: [.g: [1, 2, 3, 4], .d: [5, 6]])
    }

    func testRoundTrip() throws {
        let bytes = try sample().serialized()
        let parsed = try Checkpoint.parse(bytes, path: "x.ckpt")
        XCTAssertEqual(parsed.state, sample().state)
        XCTAssertEqual(parsed.buffers, sample().buffers)
    }

    /// Truncation at any point, and any flipped byte, is reported with the file name; never trusted.
    func testCorruptionIsDetected() throws {
        let bytes = try sample().serialized()
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
            XCTAssertThrowsError(
                try Checkpoint.parse(checkpoint.serialized(), path: "table.ckpt"), "\(shape) at \(offset)"
            ) {
                XCTAssertEqual("\($0)", "table.ckpt: tensor 'w' lies outside section 'g'")
            }
        }
    }

    /// Format version 1 as written before the container had a target of its own: the state first, then
    /// the buffers in the order of their names, which are the file's section names.
    func testSectionOrderAndNamesAreThoseOfFormatVersion1() throws {
        var checkpoint = sample()
        let bufferSections = CheckpointSection.allCases.filter { $0 != .state }
        checkpoint.buffers = Dictionary(uniqueKeysWithValues: bufferSections.map { ($0, [1]) })
        XCTAssertEqual(
            try checkpoint.file.sections.map(\.name),
            ["state", "adam_d_m", "adam_d_v", "adam_g_m", "adam_g_v", "d", "g", "g_ema"])
    }

    func testUnknownAndMissingSectionsAreNamed() throws {
        let state = try sample().file["state"]!
        let stray = CheckpointFile(sections: [state, .init(name: "h", floats: [1])])
        XCTAssertThrowsError(try Checkpoint(CheckpointFile.parse(stray.serialized(), path: "x.ckpt"), path: "x.ckpt")) {
            XCTAssertEqual("\($0)", "x.ckpt: unknown section 'h'")
        }
        let stateless = CheckpointFile(sections: [.init(name: "g", floats: [1])])
        XCTAssertThrowsError(try Checkpoint(stateless, path: "x.ckpt")) {
            XCTAssertEqual("\($0)", "x.ckpt: no state section")
        }
        let ragged = CheckpointFile(sections: [state, .init(name: "g", payload: [0, 0, 128, 63, 0])])
        XCTAssertThrowsError(try Checkpoint(ragged, path: "x.ckpt")) {
            XCTAssertEqual("\($0)", "x.ckpt: section 'g' is not a whole number of floats")
        }
    }

    func testOtherVersionIsNamed() throws {
        var bytes = try sample().serialized()
        bytes[8] = 9
        XCTAssertThrowsError(try Checkpoint.parse(bytes, path: "old.ckpt")) {
            XCTAssertEqual("\($0)", "old.ckpt: checkpoint format version 9; this build reads version 1")
        }
    }

    /// A checkpoint written before the recipe/run split (the run's length inside the schedule) still reads,
    /// so a run started with the previous version resumes.
    func testStateWithTheLengthInTheScheduleIsRead() throws {
        let current = try sample().file["state"]!
        var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(current.payload)) as? [String: Any])
        var config = try XCTUnwrap(state["config"] as? [String: Any])
        var schedule = try XCTUnwrap(config["schedule"] as? [String: Any])
        schedule["total_kimg"] = config.removeValue(forKey: "total_kimg")
        config["schedule"] = schedule
        state["config"] = config
        let legacy = CheckpointFile.Section(
            name: "state", payload: Array(try JSONSerialization.data(withJSONObject: state)))
        XCTAssertEqual(try TrainingState(legacy, path: "old.ckpt"), sample().state)
    }

    /// A checkpoint written before newer run settings existed (collective_timeout_seconds,
    /// checkpoint_minutes) reads, with their defaults.
    func testStateWithoutNewerRunSettingsIsRead() throws {
        var state = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(try sample().file["state"]!.payload)) as? [String: Any])
        var config = try XCTUnwrap(state["config"] as? [String: Any])
        for key in ["collective_timeout_seconds", "checkpoint_minutes"] {
            XCTAssertNotNil(config.removeValue(forKey: key), key)
        }
        state["config"] = config
        let older = CheckpointFile.Section(
            name: "state", payload: Array(try JSONSerialization.data(withJSONObject: state)))
        XCTAssertEqual(try TrainingState(older, path: "old.ckpt"), sample().state)
    }
}
