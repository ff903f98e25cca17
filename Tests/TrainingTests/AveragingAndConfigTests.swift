import Foundation
import XCTest
@testable import Training

final class AveragingAndConfigTests: XCTestCase {
    func testMovingAverageUpdate() {
        var average: [Float] = [1, 2, 3]
        let current: [Float] = [3, 2, 1]
        average.withUnsafeMutableBufferPointer {
            updateMovingAverage($0.baseAddress!, toward: current, count: 2, beta: 0.75)
        }
        XCTAssertEqual(average, [1.5, 2, 3], "β·average + (1-β)·current on the first `count` values only")
    }

    func testEMADecayFromHalfLife() {
        let fixed = TrainingRecipe.EMAConfig(beta: 0.999, halfLifeKimg: nil, rampup: nil)
        XCTAssertEqual(fixed.beta(minibatch: 16, imagesShown: 5000), 0.999)
        let halfLife = TrainingRecipe.EMAConfig(beta: 0.999, halfLifeKimg: 10, rampup: nil)
        // After 10,000 images (625 steps of 16) the initial weights keep exactly half their weight.
        XCTAssertEqual(pow(halfLife.beta(minibatch: 16, imagesShown: 0), 625), 0.5, accuracy: 1e-9)
        let ramped = TrainingRecipe.EMAConfig(beta: 0.999, halfLifeKimg: 10, rampup: 0.1)
        XCTAssertLessThan(
            ramped.beta(minibatch: 16, imagesShown: 1000), halfLife.beta(minibatch: 16, imagesShown: 1000))
    }

    func testMinibatchNotDivisibleByTheMicrobatchIsAConfigErrorNamingThePhase() {
        var config = TrainingConfig.tiny
        config.schedule.minibatch = [8: 6]
        XCTAssertThrowsError(try config.validate()) { error in
            XCTAssertEqual("\(error)", "at 8x8: minibatch 6 is not divisible by the micro-batch 4")
        }
        config.schedule.minibatch = [:]
        config.microbatch = 6
        config.schedule.minibatchDefault = 12
        XCTAssertThrowsError(try config.validate()) { error in
            XCTAssertEqual("\(error)", "at 4x4: micro-batch 6 is not divisible by the minibatch-stddev group size 4")
        }
        config.microbatch = nil
        config.schedule.minibatchDefault = 8
        // No rank ceiling: ranks beyond the micro-batches wait.
        for ranks in [1, 2, 3, 4, 16, 512] { XCTAssertNoThrow(try config.validate(worldSize: ranks), "\(ranks) ranks") }
    }

    func testPresetsAreValidAndSurviveJSON() throws {
        for preset in Preset.allCases {
            XCTAssertNoThrow(try preset.config.validate(), preset.rawValue)
            XCTAssertEqual(try TrainingConfig.decode(preset.config.encoded()), preset.config, preset.rawValue)
        }
    }

    func testJSONOverlay() throws {
        let overlay =
            #"{"network": {"resolution": 64}, "loss": {"kind": "hinge"}, "schedule": {"minibatch": {"64": 8}}}"#
        let config = try TrainingConfig.cpu.overlaid(withJSON: Data(overlay.utf8), source: "run.json")
        XCTAssertEqual(config.network.resolution, 64)
        XCTAssertEqual(config.network.fmapMax, TrainingConfig.cpu.network.fmapMax)
        XCTAssertEqual(config.loss.kind, .hinge)
        XCTAssertEqual(config.schedule.minibatch(at: 64), 8)
        XCTAssertThrowsError(
            try TrainingConfig.cpu.overlaid(withJSON: Data(#"{"netwrk": {}}"#.utf8), source: "run.json")
        ) {
            XCTAssertEqual("\($0)", "run.json: unknown setting 'netwrk'")
        }
        XCTAssertThrowsError(
            try TrainingConfig.cpu.overlaid(withJSON: Data(#"{"seed": "x"}"#.utf8), source: "run.json")
        ) {
            XCTAssertTrue("\($0)".hasPrefix("run.json: 'seed' has the wrong type"), "\($0)")
        }
        XCTAssertThrowsError(try TrainingConfig.cpu.overlaid(withJSON: Data("[1]".utf8), source: "run.json"))
    }

    /// `network.arch` selects the layer structure; configurations written before it existed (no `arch`
    /// key, as in older checkpoints) are of the official one, and an unknown name is a one-line error.
    func testArchitectureSetting() throws {
        let pgp = try TrainingConfig.cpu.overlaid(
            withJSON: Data(#"{"network": {"arch": "pgp"}}"#.utf8), source: "run.json")
        XCTAssertEqual(pgp.network.arch, .pgp)
        XCTAssertEqual(try TrainingConfig.decode(pgp.encoded()), pgp)
        var legacy = try JSONSerialization.jsonObject(with: TrainingConfig.cpu.encoded()) as! [String: Any]
        var network = legacy["network"] as! [String: Any]
        XCTAssertNotNil(network.removeValue(forKey: "arch"))
        legacy["network"] = network
        XCTAssertEqual(try TrainingConfig.decode(JSONSerialization.data(withJSONObject: legacy)).network.arch, .progan)
        XCTAssertThrowsError(
            try TrainingConfig.cpu.overlaid(
                withJSON: Data(#"{"network": {"arch": "stylegan"}}"#.utf8), source: "run.json")
        ) {
            XCTAssertTrue("\($0)".hasPrefix("run.json: 'network.arch' has an invalid value"), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"))
        }
    }
}
