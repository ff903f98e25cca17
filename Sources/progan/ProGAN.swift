import ArgumentParser

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
            """,
        subcommands: [Train.self, Prepare.self, Generate.self, Interpolate.self, Summary.self, Bench.self])
}
