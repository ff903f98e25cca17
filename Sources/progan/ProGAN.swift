import ArgumentParser
import Foundation

@main
struct ProGAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progan",
        abstract: "Progressive growing of GANs (Karras et al., ICLR 2018), trained data-parallel over MPI.",
        discussion: """
            Typical use:
              progan prepare ~/images --out images.pgds
              mpirun -np 2 progan train --dataset images.pgds --out runs/first
              progan generate --checkpoint runs/first/checkpoints/final.ckpt --count 64 --grid --out samples
              progan report runs/first && progan timelapse runs/first
            """,
        subcommands: [Train.self, Prepare.self, Generate.self, Interpolate.self, Evaluate.self, Report.self, Timelapse.self,
                      Summary.self, Inspect.self, Export.self, Import.self, Bench.self])

    /// Bad arguments are one line on standard error with a non-zero exit, like every other bad input
    /// (ArgumentParser's default adds the usage); `--help` still prints the full help.
    static func main() {
        do {
            var command = try parseAsRoot()
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
