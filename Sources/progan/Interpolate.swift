import ArgumentParser
import Engine
import Foundation
import Reports
import SafeIO
import Training

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the frames of a smooth walk through latent space.",
        discussion: """
            Keyframe latents come from --seed; between keyframes the latent moves along the great circle \
            (spherical interpolation), which keeps it at the norm the generator was trained on. The walk has \
            --keyframes x --frames-per-keyframe frames and ends where it started, so a video of it loops.
            """)

    @Argument(help: ArgumentHelp("Checkpoint file, e.g. RUN_DIR/checkpoints/final.ckpt.", valueName: "checkpoint"))
    var checkpoint: String
    @Option(help: ArgumentHelp("Output directory for DIR/frame-NNNN.png, created if missing.", valueName: "dir"))
    var out: String?
    @Option(
        help: ArgumentHelp(
            "Also (or only) write the walk as a video: .mp4 through ffmpeg, or .png for an animated "
                + "PNG.", valueName: "file"))
    var video: String?
    @Option(help: ArgumentHelp("Frames per second of --video, 1 to 1000.", valueName: "n")) var fps = 24
    @Option(help: ArgumentHelp("Seed of the keyframe latents.", valueName: "n")) var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Number of keyframes, at least 2.", valueName: "n")) var keyframes = 4
    @Option(
        name: .customLong("frames-per-keyframe"),
        help: ArgumentHelp("Frames from one keyframe to the next.", valueName: "n"))
    var framesPerKeyframe = 24
    @Option(
        help: ArgumentHelp(
            "Side of each frame in pixels, a multiple of the generator's resolution (default: 128, "
                + "or the resolution if larger).", valueName: "n"))
    var size: Int?

    func validate() throws {
        guard (2...Self.countLimit).contains(keyframes), (1...Self.countLimit).contains(framesPerKeyframe) else {
            throw ValidationError(
                "--keyframes must be from 2 and --frames-per-keyframe from 1, both to \(Self.countLimit)")
        }
        if let size, !(1...MemoryBudget.pictureSideLimit).contains(size) {
            throw ValidationError("--size must be from 1 to \(MemoryBudget.pictureSideLimit)")
        }
        guard out != nil || video != nil else { throw ValidationError("give --out, --video or both") }
        try checkOutputPath(out, "--out")
        try checkOutputPath(video, "--video")
    }

    /// Keyframes, or frames between two: far more than any video holds.
    static let countLimit = 10_000

    func run() throws {
        do {
            let trained = try TrainedGenerator(checkpoint: Checkpoint.read(path: checkpoint), path: checkpoint)
            let frameSize = size ?? max(trained.resolution, 128 / trained.resolution * trained.resolution)
            guard frameSize > 0, frameSize % trained.resolution == 0 else {
                throw ValidationError(
                    "--size \(frameSize) is not a multiple of the generator's resolution \(trained.resolution)")
            }
            try MemoryBudget.require(
                MemoryBudget.generation(trained.generator.config, resolution: trained.resolution, count: 1)
                    + MemoryBudget.picture(width: frameSize, height: frameSize),
                for: "--size \(frameSize)")
            // A stop request ends the walk through `fail`, whose exit removes the video's scratch frames.
            try StopRequests.install()
            if let out { try createDirectory(out) }
            let animation = try video.map { try Animation(path: $0, framesPerSecond: fps) }
            var random = PhiloxRandom(seed: seed)
            let width = trained.latentSize
            let keys = (0..<keyframes).map { _ in random.normal(shape: [width]).scalars }
            var frame = 0
            for key in 0..<keyframes {
                let from = keys[key], to = keys[(key + 1) % keyframes]
                for step in 0..<framesPerKeyframe {
                    let latent = slerp(from, to, Float(step) / Float(framesPerKeyframe))
                    let image = trained.images(latents: Tensor(shape: [1, width], values: latent))
                    let picture = imageGrid(image, columns: 1, cellSize: frameSize)
                    if let out { try picture.write(path: String(format: "%@/frame-%04d.png", out, frame)) }
                    try animation?.add(picture)
                    try stopIfRequested()
                    frame += 1
                }
            }
            if let out { print("wrote \(frame) frames of \(frameSize)x\(frameSize) to \(out)") }
            if let animation { print("wrote \(animation.path): \(try animation.finish())") }
        } catch { fail(error) }
    }
}

/// Spherical interpolation between two vectors.
func slerp(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
    let norms = (a.reduce(0) { $0 + $1 * $1 }.squareRoot(), b.reduce(0) { $0 + $1 * $1 }.squareRoot())
    let cosine = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } / max(norms.0 * norms.1, 1e-12)
    let angle = acos(min(max(cosine, -1), 1))
    guard angle > 1e-4 else { return zip(a, b).map { $0 + t * ($1 - $0) } }
    let wa = sin((1 - t) * angle) / sin(angle), wb = sin(t * angle) / sin(angle)
    return zip(a, b).map { wa * $0 + wb * $1 }
}
