import Foundation
import ImageFixtures
import ImageIO
import TestSupport

/// A small run directory written by hand: ticks at 4x4 and a fade-in to 8x8, SWD on some ticks.
final class RunFixture {
    private let directory: TemporaryDirectory
    var path: String { directory.path }

    init(swd: Bool = true, extraLines: [String] = []) throws {
        directory = try TemporaryDirectory()
        _ = try directory.folder("samples")
        try Data(#"{"loss": {"kind": "wgan-gp"}, "schedule": {"total_kimg": 0.4}}"#.utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
        var lines: [String] = []
        for tick in 1...4 {
            let resolution = tick <= 2 ? 4 : 8, phase = tick == 3 ? "fade-in" : "stabilize"
            let swdKeys = swd && tick % 2 == 0 ? #", "swd_8": \#(Double(tick) * 10), "swd_4": 7.5, "swd_mean": 8.25, "ms_ssim": 0.125"# : ""
            lines.append(#"{"tick": \#(tick), "step": \#(tick * 12), "kimg": \#(Double(tick) / 10), "resolution": \#(resolution), "phase": "\#(phase)", "alpha": \#(tick == 3 ? 0.5 : 1), "d_loss": \#(1.0 / Double(tick)), "gp": 0.25, "g_loss": -0.5, "images_per_second": 100.0, "tick_seconds": 1.0\#(swdKeys), "grid": "samples/tick-00000\#(tick).png"}"#)
            try patternImage(width: 8, height: 4, seed: tick).write(path: path + "/samples/tick-00000\(tick).png")
        }
        try Data((lines + extraLines).map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path + "/metrics.jsonl"))
    }
}
