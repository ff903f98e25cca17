import Engine
import XCTest
@testable import Model

final class ScheduleTests: XCTestCase {
    /// 600 kimg stabilization and 600 kimg fade-in per resolution, as in the official config.
    let config = ScheduleConfig(
        stabilizeKimg: 600, fadeKimg: 600, minibatch: [4: 128, 32: 64],
        minibatchDefault: 16, learningRate: [1024: 0.0015], learningRateDefault: 0.001)

    func testScheduleTable() {
        let table: [(kimg: Double, resolution: Int, phase: Phase, alpha: Float)] = [
            (0, 4, .stabilize, 1), (599.999, 4, .stabilize, 1),
            (600, 8, .fadeIn, 0), (900, 8, .fadeIn, 0.5), (1199.999, 8, .fadeIn, 1),
            (1200, 8, .stabilize, 1), (1800, 16, .fadeIn, 0), (2100, 16, .fadeIn, 0.5),
            (3000, 32, .fadeIn, 0), (3150, 32, .fadeIn, 0.25),
            (8999.999, 512, .stabilize, 1), (9300, 1024, .fadeIn, 0.5), (9600, 1024, .stabilize, 1),
            (12000, 1024, .stabilize, 1), (50000, 1024, .stabilize, 1),
        ]
        for row in table {
            let point = schedulePoint(
                imagesShown: Int((row.kimg * 1000).rounded()), config: config, finalResolution: 1024)
            XCTAssertEqual(point.resolution, row.resolution, "kimg \(row.kimg)")
            XCTAssertEqual(point.phase, row.phase, "kimg \(row.kimg)")
            XCTAssertEqual(point.alpha, row.alpha, accuracy: 1e-5, "kimg \(row.kimg)")
        }
    }

    func testMinibatchAndLearningRatePerResolution() {
        XCTAssertEqual(schedulePoint(imagesShown: 0, config: config, finalResolution: 1024).minibatch, 128)
        let at32 = schedulePoint(imagesShown: 3_600_000, config: config, finalResolution: 1024)
        XCTAssertEqual(at32.resolution, 32)
        XCTAssertEqual(at32.minibatch, 64)
        XCTAssertEqual(at32.learningRate, 0.001)
        XCTAssertEqual(
            schedulePoint(imagesShown: 11_000_000, config: config, finalResolution: 1024).learningRate, 0.0015)
        XCTAssertEqual(schedulePoint(imagesShown: 1_500_000, config: config, finalResolution: 1024).minibatch, 16)
    }

    /// The ramp-down scales every resolution's rate: untouched before its start (to the bit), linearly down
    /// to the final fraction at its end, and held there.
    func testLearningRateRampdownIsLinearBetweenItsBoundsAndHeldAfter() {
        var ramped = config
        ramped.learningRateRampdown = LearningRateRampdown(startKimg: 3000, endKimg: 5000, finalFraction: 0.1)
        let table: [(kimg: Double, factor: Double)] = [
            (0, 1), (2999.999, 1), (3000, 1), (3500, 0.775), (4000, 0.55), (5000, 0.1), (12000, 0.1),
        ]
        for row in table {
            let images = Int((row.kimg * 1000).rounded())
            let plain = schedulePoint(imagesShown: images, config: config, finalResolution: 1024)
            let point = schedulePoint(imagesShown: images, config: ramped, finalResolution: 1024)
            XCTAssertEqual(
                Double(point.learningRate), Double(plain.learningRate) * row.factor, accuracy: 1e-9, "kimg \(row.kimg)")
            XCTAssertEqual(point.resolution, plain.resolution)
            if row.factor == 1 { XCTAssertEqual(point.learningRate.bitPattern, plain.learningRate.bitPattern) }
        }
    }

    /// `imagesShown(atResolution:alpha:)` inverts the schedule: at the count it returns the schedule
    /// stands at that resolution and fade-in weight, and one image earlier it does not yet.
    func testImagesShownInvertsTheSchedule() {
        for (resolution, alpha) in [(4, Float(1)), (8, 0.25), (8, 1), (32, 0.5), (256, 0.001), (1024, 1)]
            as [(Int, Float)]
        {
            let images = imagesShown(atResolution: resolution, alpha: alpha, config: config)
            let point = schedulePoint(imagesShown: images, config: config, finalResolution: 1024)
            XCTAssertEqual(point.resolution, resolution, "\(resolution) at \(alpha)")
            XCTAssertEqual(point.alpha, alpha, accuracy: 1e-5, "\(resolution) at \(alpha)")
            XCTAssertEqual(point.phase, alpha < 1 ? .fadeIn : .stabilize, "\(resolution) at \(alpha)")
            if images > 0 {
                let before = schedulePoint(imagesShown: images - 1, config: config, finalResolution: 1024)
                XCTAssertTrue(
                    before.resolution != resolution || before.alpha < alpha || before.phase != point.phase,
                    "\(resolution) at \(alpha) is reached before \(images) images")
            }
        }
    }

    /// A run whose final resolution is low stops growing there.
    func testFinalResolutionCapsGrowth() {
        let point = schedulePoint(imagesShown: 5_000_000, config: config, finalResolution: 16)
        XCTAssertEqual(point.resolution, 16)
        XCTAssertEqual(point.phase, .stabilize)
        XCTAssertEqual(point.alpha, 1)
    }
}
