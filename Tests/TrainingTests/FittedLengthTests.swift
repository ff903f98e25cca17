import Model
import XCTest

@testable import Training

final class FittedLengthTests: XCTestCase {
    /// The `cpu` preset (4x4 for 3 kimg, then 8x8, 16x16 and 32x32 each faded in over 3 and stable for 3),
    /// without SWD ticks, on a machine where an image costs 1, 2, 5 and 10 ms at the four resolutions: the
    /// first 15 kimg take 3 + 12 + 30 = 45 s, and each kimg at 32x32 10 s more, at the probe's pace; a
    /// budget is a run's time, `probeOptimism` times as long.
    private let config = TrainingConfig.cpu.with { $0.swdTicks = 0 }
    private let probe = CostProbe(secondsPerImage: [4: 1e-3, 8: 2e-3, 16: 5e-3, 32: 10e-3])
    private let slower = TrainingConfig.probeOptimism

    func testTheLongestWholeKimgThatFitsTheBudgetIsChosen() {
        // 45 kimg take 345 s and 46 take 355.
        XCTAssertEqual(config.withLength(kimg: 45).secondsAtProbePace(probe, cores: 2)!, 345, accuracy: 1e-9)
        XCTAssertEqual(config.withLength(kimg: 46).secondsAtProbePace(probe, cores: 2)!, 355, accuracy: 1e-9)
        XCTAssertNil(config.secondsAtProbePace(CostProbe(), cores: 2), "nothing timed, nothing predicted")
        XCTAssertEqual(config.fitted(toSeconds: 354 * slower, probe: probe, cores: 2).totalKimg, 45)
        XCTAssertEqual(config.fitted(toSeconds: 355.5 * slower, probe: probe, cores: 2).totalKimg, 46)
        XCTAssertEqual(
            config.fitted(toSeconds: 454 * slower, probe: probe, cores: 2, endOfRunSeconds: 100).totalKimg, 45,
            "the final FID/KID comes out of the budget")
        XCTAssertEqual(config.fitted(toSeconds: 0.5, probe: probe, cores: 2).totalKimg, 1, "never less than 1 kimg")
        XCTAssertEqual(
            config.fitted(toSeconds: 1e30, probe: probe, cores: 2).totalKimg, ConfigLimits.kimg,
            "never more than a configuration may hold")
    }

    func testAResolutionTheProbeLeftOutIsExtrapolatedFromThoseItTimed() {
        let partial = CostProbe(secondsPerImage: [4: 1e-3, 8: 2e-3, 16: 5e-3])
        var history = ThroughputHistory()
        for (resolution, perImage) in partial.secondsPerImage {
            history.add(resolution: resolution, images: 1000, seconds: 1000 * perImage)
        }
        let perImage = RemainingTime(config: config, cores: 2, probe: partial).secondsPerImage(
            at: 32, history: history)!
        let fitted = config.fitted(toSeconds: (45 + 1000 * perImage * 30 + 1) * slower, probe: partial, cores: 2)
        XCTAssertEqual(fitted.totalKimg, 45)
    }

    func testARampDownEndingWithTheRunIsStretchedWithIt() throws {
        let ramp = try XCTUnwrap(TrainingConfig.cpu.schedule.learningRateRampdown)
        XCTAssertEqual(ramp.endKimg, TrainingConfig.cpu.totalKimg, "the cpu preset's ramp ends with its run")
        let fitted = try XCTUnwrap(
            config.fitted(toSeconds: 354 * slower, probe: probe, cores: 2).schedule.learningRateRampdown)
        // The start at the same fraction of the run (45 of 85 kimg), in tenths of a kimg.
        XCTAssertEqual(fitted.startKimg, 23.8)
        XCTAssertEqual(fitted.endKimg, 45)
        XCTAssertEqual(fitted.finalFraction, ramp.finalFraction)
        try config.fitted(toSeconds: 354 * slower, probe: probe, cores: 2).validate()
    }

    func testARampDownEndingElsewhereIsKept() {
        let own = LearningRateRampdown(startKimg: 10, endKimg: 20, finalFraction: 0.5)
        let config = self.config.with { $0.schedule.learningRateRampdown = own }
        let fitted = config.fitted(toSeconds: 354 * slower, probe: probe, cores: 2)
        XCTAssertEqual(fitted.totalKimg, 45)
        XCTAssertEqual(fitted.schedule.learningRateRampdown, own)
        XCTAssertEqual(fitted.recipe.network, config.recipe.network, "only the length and the ramp change")
    }

    func testDuringARunTheLengthIsFittedToTheTimeLeftAtThePaceMeasured() throws {
        // The run so far went at half the probe's pace: 32x32 then costs 20 ms an image, 20 s a kimg.
        var history = ThroughputHistory()
        history.add(resolution: 4, images: 3000, seconds: 6)
        history.add(resolution: 8, images: 6000, seconds: 24)
        history.add(resolution: 16, images: 6000, seconds: 60)
        func refitted(_ seconds: Double) -> Double? {
            config.refittedKimg(
                imagesShown: 15_000, history: history, probe: probe, cores: 2, endOfRunSeconds: 0, seconds: seconds)
        }
        XCTAssertEqual(refitted(205), 25)
        XCTAssertEqual(refitted(221), 26)
        XCTAssertEqual(refitted(0), 16, "a run out of time ends at the next kimg")
        XCTAssertEqual(
            config.refittedKimg(
                imagesShown: 15_000, history: history, probe: probe, cores: 2, endOfRunSeconds: 100, seconds: 305),
            25, "the final FID/KID comes out of the time left")
        XCTAssertNil(
            config.refittedKimg(
                imagesShown: 0, history: ThroughputHistory(), probe: CostProbe(), cores: 2, endOfRunSeconds: 0,
                seconds: 100), "nothing measured, nothing fitted")
        let refittedConfig = config.with { $0.totalKimg = refitted(205)! }
        XCTAssertEqual(
            refittedConfig.schedule.learningRateRampdown, config.schedule.learningRateRampdown,
            "the ramp-down is part of the recipe and stays")
    }
}
