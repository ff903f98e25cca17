import XCTest
@testable import Model

/// Every number of a network and schedule is checked against a documented range, the error naming the key;
/// what the run computes from them cannot trap even for a value that slipped past.
final class RangeTests: XCTestCase {
    private func assertRefused(
        _ check: () throws -> Void, naming key: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try check(), file: file, line: line) {
            XCTAssertTrue("\($0)".hasPrefix(key + " "), "\($0) does not name \(key)", file: file, line: line)
        }
    }

    func testNetworkNumbersOutOfRangeNameTheirKey() {
        var network = NetworkConfig(resolution: 32)
        XCTAssertNoThrow(try network.validate())
        let cases: [(String, (inout NetworkConfig) -> Void)] = [
            ("network.latent_size", { $0.latentSize = 100_000_000_000 }),
            ("network.fmap_max", { $0.fmapMax = 1 << 30 }),
            ("network.fmap_base", { $0.fmapBase = 0 }),
            ("network.fmap_decay", { $0.fmapDecay = .nan }),
            ("network.fmap_decay", { $0.fmapDecay = .infinity }),
            ("network.mbstd_group_size", { $0.mbstdGroupSize = Int.max }),
            ("network.image_channels", { $0.imageChannels = 0 }),
        ]
        for (key, change) in cases {
            network = NetworkConfig(resolution: 32)
            change(&network)
            assertRefused({ try network.validate() }, naming: key)
        }
    }

    func testScheduleNumbersOutOfRangeNameTheirKey() {
        let base = ScheduleConfig(stabilizeKimg: 1, fadeKimg: 1, minibatchDefault: 8, learningRateDefault: 0.001)
        XCTAssertNoThrow(try base.validate())
        let cases: [(String, (inout ScheduleConfig) -> Void)] = [
            ("schedule.stabilize_kimg", { $0.stabilizeKimg = 1e20 }),
            ("schedule.fade_kimg", { $0.fadeKimg = .infinity }),
            ("schedule.fade_kimg", { $0.fadeKimg = -.nan }),
            ("schedule.learning_rate_default", { $0.learningRateDefault = .infinity }),
            ("schedule.learning_rate.16", { $0.learningRate = [16: .nan] }),
            ("schedule.minibatch.8", { $0.minibatch = [8: 1 << 40] }),
            ("schedule.minibatch_default", { $0.minibatchDefault = 0 }),
            ("schedule.learning_rate_rampdown.start_kimg", { $0.learningRateRampdown = Self.ramp(.nan, 2, 0.1) }),
            ("schedule.learning_rate_rampdown.end_kimg", { $0.learningRateRampdown = Self.ramp(1, 1e20, 0.1) }),
            ("schedule.learning_rate_rampdown.end_kimg", { $0.learningRateRampdown = Self.ramp(2, 2, 0.1) }),
            ("schedule.learning_rate_rampdown.end_kimg", { $0.learningRateRampdown = Self.ramp(3, 2, 0.1) }),
            ("schedule.learning_rate_rampdown.final_fraction", { $0.learningRateRampdown = Self.ramp(1, 2, 0) }),
            ("schedule.learning_rate_rampdown.final_fraction", { $0.learningRateRampdown = Self.ramp(1, 2, 1.5) }),
        ]
        for (key, change) in cases {
            var schedule = base
            change(&schedule)
            assertRefused({ try schedule.validate() }, naming: key)
        }
    }

    private static func ramp(_ start: Double, _ end: Double, _ fraction: Double) -> LearningRateRampdown {
        LearningRateRampdown(startKimg: start, endKimg: end, finalFraction: fraction)
    }

    /// What the schedule computes from durations no validation has seen: clamped, never a trap.
    func testImageCountsFromAnyDurationAreWholeNumbers() {
        XCTAssertEqual(wholeImages(kimg: 1.5), 1500)
        XCTAssertEqual(wholeImages(kimg: -3), 0)
        XCTAssertEqual(wholeImages(kimg: .nan), 0)
        XCTAssertEqual(wholeImages(kimg: .infinity), wholeImages(kimg: ConfigLimits.kimg))
        XCTAssertEqual(wholeImages(kimg: 1e300), wholeImages(kimg: ConfigLimits.kimg))
        let huge = ScheduleConfig(stabilizeKimg: 1e300, fadeKimg: .nan, minibatchDefault: 1, learningRateDefault: 1)
        XCTAssertEqual(schedulePoint(imagesShown: 1 << 30, config: huge, finalResolution: 64).resolution, 4)
        XCTAssertEqual(NetworkConfig(resolution: 8, fmapDecay: .nan, fmapMax: 7).features(stage: 1), 7)
    }

    /// The spans the ETA sums agree with `schedulePoint` image by image.
    func testResolutionStartsAgreeWithTheSchedule() {
        let configs = [
            ScheduleConfig(stabilizeKimg: 0.007, fadeKimg: 0.005, minibatchDefault: 1, learningRateDefault: 1),
            ScheduleConfig(stabilizeKimg: 0, fadeKimg: 0.003, minibatchDefault: 1, learningRateDefault: 1),
            ScheduleConfig(stabilizeKimg: 0.004, fadeKimg: 0, minibatchDefault: 1, learningRateDefault: 1),
            ScheduleConfig(stabilizeKimg: 0, fadeKimg: 0, minibatchDefault: 1, learningRateDefault: 1),
        ]
        for config in configs {
            let starts = resolutionStarts(config: config, finalResolution: 32)
            XCTAssertEqual(starts.map(\.resolution), [4, 8, 16, 32])
            for images in 0..<80 {
                let expected = schedulePoint(imagesShown: images, config: config, finalResolution: 32).resolution
                let span = starts.last { $0.imagesShown <= images }!
                XCTAssertEqual(span.resolution, expected, "\(config) at \(images) images")
            }
        }
    }
}
