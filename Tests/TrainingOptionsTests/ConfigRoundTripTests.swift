import ArgumentParser
import Foundation
import Model
import Training
import TrainingOptions
import XCTest

/// A run's config.json must give back that run's configuration whatever preset and flags started it:
/// `progan train --config RUN/config.json --out RUN` resumes it.
final class ConfigRoundTripTests: XCTestCase {
    /// One sample use of every training flag, each value unlike every preset's.
    static let flagSamples: [[String]] = [
        ["--resolution", "64"], ["--seed", "4242"], ["--total-kimg", "3.5"], ["--loss", "hinge"],
        ["--stabilize-kimg", "0.3"], ["--fade-kimg", "0.5"], ["--minibatch", "24"], ["--learning-rate", "0.0042"],
        ["--microbatch", "8"], ["--no-deterministic"], ["--no-mirror"], ["--skip-non-finite-steps"],
        ["--tick-kimg", "0.25"], ["--checkpoint-ticks", "7"], ["--keep-checkpoints", "5"], ["--grid-samples", "12"],
        ["--swd-ticks", "3"], ["--swd-images", "64"], ["--minibatch-per-rank"], ["--collective-timeout", "42.5"],
        ["--threads", "3"],
        ["--checkpoint-minutes", "2.5"], ["--conditional"], ["--conditional-kind", "projection"],
        ["--fid"], ["--kid"], ["--fid-ticks", "4"], ["--fid-images", "48"],
    ]

    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "/round-trip-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// The configuration `progan train ARGUMENTS` would train with.
    private func resolve(_ arguments: [String]) throws -> TrainingConfig {
        let parsed = try TrainArguments.parse(arguments)
        return try parsed.options.resolved(parsed.flags.overrides)
    }

    /// What config.json holds, read back as `--config` over another preset.
    private func reread(_ config: TrainingConfig, over preset: Preset) throws -> TrainingConfig {
        let path = directory + "/config.json"
        try config.encoded().write(to: URL(fileURLWithPath: path))
        return try resolve(["--preset", preset.rawValue, "--config", path])
    }

    func testEveryPresetAndFlagRoundTrips() throws {
        var effective: Set<[String]> = []
        for preset in Preset.allCases {
            for arguments in [[]] + Self.flagSamples + [Self.flagSamples.flatMap { $0 }] {
                let label = "\(preset.rawValue) \(arguments.joined(separator: " "))"
                let config = try resolve(["--preset", preset.rawValue] + arguments)
                if config != preset.config { effective.insert(arguments) }
                for base in Set([preset, .cpu]) {
                    let reread = try reread(config, over: base)
                    XCTAssertEqual(reread, config, "\(label), read back over \(base.rawValue)")
                    XCTAssertTrue(reread.canResume(from: config), label)
                    XCTAssertEqual(reread.recipeDifferences(from: config), [], label)
                }
            }
        }
        for arguments in Self.flagSamples where !effective.contains(arguments) {
            XCTFail("\(arguments.joined(separator: " ")) changed no preset's configuration")
        }
    }

    /// The samples above cover every flag `progan train` has, so a new flag cannot miss the round trip.
    func testSamplesCoverEveryFlag() throws {
        let help = TrainArguments.helpMessage(columns: 1000)
        let named = try NSRegularExpression(pattern: "--[a-z][a-z-]*")
        let flags = Set(
            named.matches(in: help, range: NSRange(help.startIndex..., in: help)).map {
                String(help[Range($0.range, in: help)!])
            }
        ).subtracting(["--help", "--preset", "--config", "--arch"])
        let sampled = Set(Self.flagSamples.map { $0[0] })
        let uncovered = flags.filter { flag in
            !sampled.contains(flag) && !sampled.contains(flag.replacingOccurrences(of: "--", with: "--no-"))
                && !sampled.contains(flag.replacingOccurrences(of: "--no-", with: "--"))
        }
        XCTAssertEqual(uncovered, [], "flags without a round-trip sample")
    }

    /// A resume under a different recipe is refused with every differing setting, old and new value;
    /// run settings may differ.
    func testRecipeDifferencesNameEachKey() throws {
        let original = try resolve(["--preset", "tiny"])
        let changed = try resolve(["--preset", "tiny", "--seed", "7", "--loss", "hinge", "--total-kimg", "9"])
        XCTAssertFalse(changed.canResume(from: original))
        XCTAssertEqual(
            changed.recipeDifferences(from: original),
            [
                "loss.kind: \"wgan-gp\" in the checkpoint, \"hinge\" now", "seed: 1 in the checkpoint, 7 now",
            ])
        let longer = try resolve(["--preset", "tiny", "--total-kimg", "9", "--tick-kimg", "0.5"])
        XCTAssertTrue(longer.canResume(from: original))
    }

    /// A config.json written before the recipe/run split (the run's length inside the schedule) still
    /// resumes its run.
    func testConfigWithTheLengthInTheScheduleIsRead() throws {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: TrainingConfig.tiny.encoded()) as? [String: Any])
        var schedule = try XCTUnwrap(object["schedule"] as? [String: Any])
        schedule["total_kimg"] = object.removeValue(forKey: "total_kimg")
        object["schedule"] = schedule
        let path = directory + "/old.json"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try resolve(["--preset", "cpu", "--config", path]), TrainingConfig.tiny)
    }
}

/// The configuration arguments of `progan train`, as its command declares them.
private struct TrainArguments: ParsableArguments {
    @OptionGroup var options: ConfigOptions
    @OptionGroup var flags: TrainingFlags
}
