import ArgumentParser
import Engine
import Model
import TrainingOptions

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every layer of G and D with its shape and parameter count.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let network: NetworkConfig
        do {
            network = try options.resolved().network
            try network.validate()
        } catch { fail(error) }
        print(
            "\(network.arch.rawValue) network at \(network.resolution)x\(network.resolution): "
                + "fmap_base \(network.fmapBase), fmap_max \(network.fmapMax), "
                + "latent \(network.latent), minibatch-stddev group \(network.mbstdGroupSize)")
        for (title, layout) in [
            ("generator", Generator(network).layout), ("discriminator", Discriminator(network).layout),
        ] {
            print("\n\(title)")
            for parameter in layout.parameters {
                let shape = parameter.shape.map(String.init).joined(separator: "x")
                let name = parameter.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                let paddedShape = shape.padding(toLength: 18, withPad: " ", startingAt: 0)
                print("  \(name) \(paddedShape) \(String(parameter.count).leftPadded(11))")
            }
            print("  \(title) total \(String(layout.count).leftPadded(40 - title.count))")
        }
    }
}
