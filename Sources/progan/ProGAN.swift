import ArgumentParser

@main
struct ProGAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progan",
        abstract: "Progressive growing of GANs (Karras et al., ICLR 2018), trained data-parallel over MPI.",
        subcommands: [Bench.self])
}
