import CheckpointFile
import Foundation
import Model
import XCTest
@testable import Training

/// A checkpoint whose checksums are valid but whose state holds numbers out of range is refused with the
/// key named; so is a configuration file's number its setting's type cannot hold, and a size larger than
/// the machine's memory.
final class StateRangeTests: XCTestCase {
    private func state(_ change: (inout TrainingState) -> Void) -> TrainingState {
        var state = TrainingState(
            config: .tiny, configHash: TrainingConfig.tiny.hash, step: 3, imagesShown: 24, dataPosition: 24,
            resolution: 4, phase: .stabilize, adamGeneratorStep: 3, adamDiscriminatorStep: 3, randomScheme: "test",
            tensors: [])
        change(&state)
        return state
    }

    private func parse(_ state: TrainingState) throws -> Checkpoint {
        try Checkpoint.parse(Checkpoint(state: state, buffers: [:]).serialized(), path: "s.ckpt")
    }

    func testCountersOutOfRangeAreRefusedNamingTheKey() throws {
        XCTAssertNoThrow(try parse(state { _ in }))
        let cases: [(String, (inout TrainingState) -> Void)] = [
            ("step -1", { $0.step = -1 }),
            ("data_position -7", { $0.dataPosition = -7 }),
            ("images_shown -24", { $0.imagesShown = -24 }),
            ("adam_discriminator_step \(Int.min)", { $0.adamDiscriminatorStep = .min }),
            ("step \(Int.max)", { $0.step = .max }),
            ("resolution 12", { $0.resolution = 12 }),
            ("resolution 64", { $0.resolution = 64 }),
            ("total_kimg -1.0", { $0.config.totalKimg = -1 }),
            ("network.latent_size 100000000000", { $0.config.network.latentSize = 100_000_000_000 }),
        ]
        for (expected, change) in cases {
            XCTAssertThrowsError(try parse(state(change)), expected) {
                XCTAssertTrue("\($0)".hasPrefix("s.ckpt: state: \(expected)"), "\($0)")
            }
        }
    }

    /// A state that cannot be written (a non-finite setting) is an error, not a trap.
    func testUnwritableStateThrows() {
        XCTAssertThrowsError(try Checkpoint(state: state { $0.config.tickKimg = .infinity }, buffers: [:]).serialized())
        {
            XCTAssertTrue("\($0)".contains("tick_kimg"), "\($0)")
        }
    }

    func testJSONNumberItsTypeCannotHoldNamesTheKey() {
        let holds = "has a value its setting cannot hold"
        let cases = [
            (#"{"seed": 1e30}"#, "'seed' \(holds)"), (#"{"seed": -1}"#, "'seed' \(holds)"),
            (#"{"network": {"fmap_max": 1e40}}"#, "'network.fmap_max' \(holds)"),
            (#"{"schedule": {"minibatch": {"8": 1.5e300}}}"#, "'schedule.minibatch' \(holds)"),
            (#"{"network": {"fmap_decay": -2e999}}"#, "'fmap_decay': the number -2e999 is beyond"),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try TrainingConfig.tiny.overlaid(withJSON: Data(json.utf8), source: "c.json")) {
                XCTAssertTrue("\($0)".hasPrefix("c.json: \(expected)"), "\($0)")
            }
        }
    }

    func testSizesBeyondTheMachineAreRefusedBeforeAllocating() throws {
        let physical = try XCTUnwrap(MemoryBudget.physicalBytes)
        var config = TrainingConfig.tiny
        XCTAssertLessThan(try XCTUnwrap(config.estimatedMemory(ranks: 1)), physical)
        XCTAssertNoThrow(try config.requireMemory(ranks: 1))
        config.network.fmapBase = 1 << 24
        config.network.fmapMax = 1 << 14
        XCTAssertGreaterThan(try XCTUnwrap(config.estimatedMemory(ranks: 1)), physical)
        XCTAssertNoThrow(try config.validate(), "a configuration for a bigger machine is valid")
        XCTAssertThrowsError(try config.requireMemory(ranks: 1)) {
            XCTAssertTrue("\($0)".contains("would need about"), "\($0)")
        }
        XCTAssertThrowsError(try MemoryBudget.require(physical * 2, for: "--images 7")) {
            XCTAssertTrue("\($0)".hasPrefix("--images 7 would need about"), "\($0)")
        }
        XCTAssertNoThrow(try MemoryBudget.require(physical / 2, for: "half"))
    }
}
