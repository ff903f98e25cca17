import ArgumentParser
import Foundation

@main
struct ProGAN: ParsableCommand {
    /// The release, printed by `progan --version` and in the help.
    static let version = "0.9.0"

    static let configuration = CommandConfiguration(
        commandName: "progan",
        abstract: "progan \(version): progressive growing of GANs (Karras et al., ICLR 2018), trained data-parallel "
            + "over MPI.",
        // The help keeps line breaks and rewraps only longer lines: examples stay under 80 columns.
        discussion: """
            Typical use:
              progan prepare ~/images --out images.pgds
              mpirun -np 2 progan train --dataset images.pgds --out runs/first
              progan generate runs/first/checkpoints/final.ckpt --images 64 --out samples
              progan report runs/first && progan timelapse runs/first
            """,
        version: version,
        subcommands: [
            Train.self, Prepare.self, Verify.self, Generate.self, Interpolate.self, Evaluate.self, Report.self,
            Timelapse.self, Summary.self, Inspect.self, Export.self, Import.self, Bench.self, Plan.self,
        ])

    /// Bad arguments are one line on standard error with a non-zero exit, like every other bad input
    /// (ArgumentParser's default adds the usage); `--help` still prints the full help.
    static func main() {
        let (arguments, warnings) = RenamedOption.modernized(Array(CommandLine.arguments.dropFirst()))
        warnings.forEach(warn)
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}
