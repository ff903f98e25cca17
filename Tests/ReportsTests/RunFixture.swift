import Foundation
import ImageFixtures
import ImageIO
import TestSupport
import Training

/// A small run directory written by hand: ticks at 4x4 and a fade-in to 8x8, SWD on some ticks.
final class RunFixture {
    private let directory: TemporaryDirectory
    var path: String { directory.path }

    init(swd: Bool = true, extraLines: [String] = []) throws {
        directory = try TemporaryDirectory()
        _ = try directory.folder("samples")
        try Data(#"{"loss": {"kind": "wgan-gp"}, "total_kimg": 0.4}"#.utf8).write(
            to: URL(fileURLWithPath: path + "/config.json"))
        var lines: [String] = []
        for tick in 1...4 {
            let swdKeys =
                swd && tick % 2 == 0
                ? ["swd_8": Double(tick) * 10, "swd_4": 7.5, "swd_mean": 8.25, "ms_ssim": 0.125] : [:]
            lines.append(try Self.record(tick: tick, quality: swdKeys).jsonLine())
            try patternImage(width: 8, height: 4, seed: tick).write(path: path + "/samples/tick-00000\(tick).png")
        }
        try Data((lines + extraLines).map { $0 + "\n" }.joined().utf8).write(
            to: URL(fileURLWithPath: path + "/metrics.jsonl"))
    }

    /// Tick `tick` of the fixture: 4x4 for two ticks, then a fade-in to 8x8 and 8x8 stable.
    static func record(tick: Int, quality: [String: Double] = [:]) -> TickRecord {
        let fields = TickRecord.Fields(
            tick: tick, step: tick * 12, kimg: Double(tick) / 10, resolution: tick <= 2 ? 4 : 8,
            phase: tick == 3 ? .fadeIn : .stabilize, alpha: tick == 3 ? 0.5 : 1, minibatch: 8, learningRate: 0.002,
            skippedUpdates: 0, imagesPerSecond: 100, tickSeconds: 1, peakResidentMiB: 300,
            grid: "samples/tick-00000\(tick).png")
        return TickRecord(fields, losses: ["d_loss": 1.0 / Double(tick), "gp": 0.25, "g_loss": -0.5], quality: quality)
    }
}
