import ArgumentParser
import Foundation
import ImageIO
import Reports
import StopSignal
import Training

struct Timelapse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Assemble a run's per-tick sample grids into a video or an animated PNG.",
        discussion: """
            An .mp4 is encoded by ffmpeg; an .png output is an animated PNG written without it. Without --out, \
            RUN_DIR/timelapse.mp4 when ffmpeg is on PATH, RUN_DIR/timelapse.png otherwise. Frames are scaled \
            up by nearest neighbour, so the blocks of the early 4x4 samples stay visible.
            """)

    @Argument(help: ArgumentHelp("Run directory (the --out of progan train).", valueName: "run-dir"))
    var runDirectory: String
    @Option(
        help: ArgumentHelp(
            "Video file to write, .mp4 or .png (default: RUN_DIR/timelapse.mp4 with ffmpeg on PATH, "
                + "else RUN_DIR/timelapse.png).", valueName: "file"))
    var out: String?
    @Option(help: ArgumentHelp("Frames (ticks) per second, 1 to 1000.", valueName: "n")) var fps = 8
    @Option(
        name: .customLong("min-width"),
        help: ArgumentHelp(
            "Least frame width in pixels; frames are scaled up by a whole factor to reach it.",
            valueName: "n"))
    var minWidth = 512

    func validate() throws {
        try checkOutputPath(out, "--out")
        if out == nil { try checkOutputPath(runDirectory, "run-dir") }
        guard fps > 0 else { throw ValidationError("--fps must be positive") }
        guard (1...MemoryBudget.pictureSideLimit).contains(minWidth) else {
            throw ValidationError("--min-width must be from 1 to \(MemoryBudget.pictureSideLimit)")
        }
    }

    func run() throws {
        do {
            // A stop request ends the assembly through `fail`, whose exit removes the scratch frames.
            try StopRequests.install()
            let records = try RunRecords(path: runDirectory)
            let path = out ?? "\(records.directory.path)/timelapse.\(Animation.defaultExtension)"
            let animation = try Animation(path: path, framesPerSecond: fps)
            let grids = records.gridPaths()
            let first = try RGBImage.read(path: grids[0])
            let factor = max(1, (minWidth + first.width - 1) / first.width)
            try MemoryBudget.require(
                MemoryBudget.picture(width: first.width * factor, height: first.height * factor),
                for: "--min-width \(minWidth) (frames of \(first.width * factor) pixels wide)")
            // Grids of a run that changed grid_samples on resume differ in size: all take the first one's.
            for grid in grids {
                try animation.add(
                    resizedNearest(
                        try RGBImage.read(path: grid), width: first.width * factor, height: first.height * factor))
                try stopIfRequested()
            }
            print("wrote \(path): \(try animation.finish())")
        } catch { fail(error) }
    }
}
