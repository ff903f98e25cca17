import ArgumentParser
import Foundation
import Interop
import Model
import SafeIO
import Safetensors
import Training
import TrainingOptions

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Start a run directory from networks trained elsewhere, to continue training them here.",
        discussion: """
            MODEL is a safetensors file from `progan export --net all` (or scripts/torch/pgp_convert.py), or a \
            pro_gan_pytorch saved model (.bin/.pth, converted through scripts/torch/pgp_convert.py). The networks \
            and where training stood come from MODEL; every other setting from --preset / --config. Writes \
            RUN_DIR/config.json and RUN_DIR/checkpoints/step-000000000.ckpt (fresh Adam state); `progan train \
            --out RUN_DIR --preset P --config RUN_DIR/config.json` then continues from it.
            """)

    @Argument(help: ArgumentHelp("Networks to import.", valueName: "model")) var model: String
    @Option(help: ArgumentHelp("Run directory to create.", valueName: "dir")) var out: String
    @OptionGroup var options: ConfigOptions

    func validate() throws {
        try checkOutputPath(out, "--out")
        guard options.arch == nil, options.resolution == nil else {
            throw ValidationError("--arch and --resolution come from the imported model")
        }
    }

    func run() throws {
        do {
            let file: SafetensorsFile
            if model.hasSuffix(".safetensors") {
                file = try SafetensorsFile.read(path: model)
            } else {
                guard FileManager.default.fileExists(atPath: model) else {
                    throw FileError(path: model, problem: "no such file")
                }
                file = try withTemporaryPath(".safetensors") { temporary in
                    try PGPConverter.run(["to-safetensors", model, temporary], about: model)
                    return try SafetensorsFile.read(path: temporary)
                }
            }
            let checkpoint = try ModelExchange.checkpoint(from: file, path: model, training: try options.resolved())
            let directory = RunDirectory(out)
            let (lock, _, _) = try directory.takeOwnership()
            defer { withExtendedLifetime(lock) {} }
            guard directory.stepCheckpoints().isEmpty else {
                throw FileError(
                    path: directory.checkpointsPath,
                    problem: "already holds checkpoints; import into a new run directory")
            }
            try directory.create()
            let config = checkpoint.state.config
            try AtomicFile.write(to: directory.configPath, bytes: Array(try config.encoded()))
            let path = directory.checkpointPath(step: 0)
            try checkpoint.write(to: path)
            let network = config.network, state = checkpoint.state
            let point = schedulePoint(
                imagesShown: state.imagesShown, config: config.schedule, finalResolution: network.resolution)
            let kimg = String(format: "%.1f", Double(state.imagesShown) / 1000)
            print(
                "imported \(network.arch.rawValue) networks at \(network.resolution)x\(network.resolution) "
                    + "(G \(checkpoint.buffers[.g]!.count), D \(checkpoint.buffers[.d]!.count) parameters) into \(path)"
            )
            print(
                "training stands at \(kimg) kimg: \(point.resolution)x\(point.resolution) "
                    + (point.phase == .fadeIn ? "fade-in alpha \(point.alpha)" : "stable"))
            print(
                "continue: mpirun -np RANKS progan train --dataset DATA --out \(out) --preset \(options.preset) "
                    + "--config \(directory.configPath) --total-kimg K   (K > \(kimg))")
        } catch { fail(error) }
    }
}
