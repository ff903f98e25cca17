import Engine
import Foundation
import Model
import Safetensors
@testable import Training
import XCTest
@testable import Interop

final class ModelExchangeTests: XCTestCase {
    private let network = NetworkConfig(resolution: 8, fmapBase: 64, fmapMax: 8, latentSize: 8, arch: .pgp)

    private func randomValues(_ count: Int, seed: UInt64) -> [Float] {
        var random = PhiloxRandom(seed: seed)
        return random.normal(shape: [count]).scalars
    }

    /// A file as `progan export --net all` writes it, from random networks, standing at 8x8 mid fade-in.
    private func exportedFile(nets: [ModelExchange.Net] = ModelExchange.Net.allCases) -> SafetensorsFile {
        var tensors: [SafetensorsFile.Tensor] = []
        for (index, net) in nets.enumerated() {
            let layout = net == .d ? Discriminator(network).layout : Generator(network).layout
            let values = randomValues(layout.count, seed: UInt64(index + 1))
            tensors += layout.parameters.map {
                .init(
                    name: "\(net.rawValue)/\($0.name)", shape: $0.shape,
                    values: Array(values[$0.offset..<($0.offset + $0.count)]))
            }
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return SafetensorsFile(
            tensors: tensors,
            metadata: [
                ModelExchange.networkKey: String(decoding: try! encoder.encode(network), as: UTF8.self),
                ModelExchange.resolutionKey: "8", ModelExchange.alphaKey: "0.25",
            ])
    }

    private func assertRejected(_ file: SafetensorsFile, _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(
            try ModelExchange.checkpoint(from: file, path: "m.safetensors", training: .tiny), line: line
        ) {
            XCTAssertTrue("\($0)".hasPrefix("m.safetensors: "), "\($0)", line: line)
            XCTAssertTrue("\($0)".contains(expected), "'\($0)' does not mention '\(expected)'", line: line)
        }
    }

    /// Import then export gives back every tensor bit for bit, and the schedule stands where the file said.
    func testImportThenExportIsExact() throws {
        let file = exportedFile()
        let checkpoint = try ModelExchange.checkpoint(from: file, path: "m.safetensors", training: .tiny)
        XCTAssertEqual(checkpoint.state.config.network, network)
        XCTAssertEqual(checkpoint.state.config.schedule, TrainingConfig.tiny.schedule)
        let point = schedulePoint(
            imagesShown: checkpoint.state.imagesShown, config: checkpoint.state.config.schedule, finalResolution: 8)
        XCTAssertEqual(point.resolution, 8)
        XCTAssertEqual(point.alpha, 0.25, accuracy: 0.01)
        let discriminatorZeros = [Float](repeating: 0, count: Discriminator(network).layout.count)
        XCTAssertEqual(checkpoint.buffers[.adamDiscriminatorV], discriminatorZeros)
        // The checkpoint is one a trainer accepts: its own serialization reads back.
        let reread = try Checkpoint.parse(checkpoint.serialized(), path: "c.ckpt")
        let exported = try ModelExchange.export(reread, path: "c.ckpt", nets: ModelExchange.Net.allCases)
        XCTAssertEqual(exported.tensors, file.tensors)
        XCTAssertEqual(exported.metadata[ModelExchange.resolutionKey], "8")
        XCTAssertEqual(Float(exported.metadata[ModelExchange.alphaKey]!)!, 0.25, accuracy: 0.01)
        XCTAssertEqual(try SafetensorsFile.parse(exported.serialized(), path: "x"), exported)
    }

    /// A file with only the averaged generator and D (what a pro_gan_pytorch model without EMA lacks is
    /// the other way round) fills the missing generator from the one present.
    func testAMissingGeneratorIsACopyOfThePresentOne() throws {
        let checkpoint = try ModelExchange.checkpoint(
            from: exportedFile(nets: [.gEMA, .d]), path: "m.safetensors", training: .tiny)
        XCTAssertEqual(checkpoint.buffers[.g], checkpoint.buffers[.gEMA])
    }

    func testFilesThatDoNotFitAreRejected() {
        assertRejected(exportedFile(nets: [.g, .gEMA]), "holds no discriminator")
        assertRejected(exportedFile(nets: [.d]), "holds no generator")
        var file = exportedFile()
        file.metadata[ModelExchange.networkKey] = nil
        assertRejected(file, "no 'progan.network' metadata")
        file = exportedFile()
        file.metadata[ModelExchange.networkKey] = #"{"resolution": 48}"#
        assertRejected(file, "is not a network configuration")
        file = exportedFile()
        file.tensors.append(.init(name: "d/d.64x64.conv0.weight", shape: [1], values: [0]))
        assertRejected(file, "tensor 'd/d.64x64.conv0.weight' is not part of a pgp network at 8x8")
        file = exportedFile()
        file.tensors[0] = .init(
            name: file.tensors[0].name, shape: [file.tensors[0].values.count], values: file.tensors[0].values)
        assertRejected(file, "the network needs")
        file = exportedFile()
        file.metadata[ModelExchange.alphaKey] = "1.5"
        assertRejected(file, "is not in [0, 1]")
    }

    /// Every weight has its equalized-LR scale, gain / sqrt(fan_in), and no bias has one.
    func testWeightScales() {
        for arch in Architecture.allCases {
            var config = network
            config.arch = arch
            let scales = ModelExchange.weightScales(config)
            let names = (Generator(config).layout.parameters + Discriminator(config).layout.parameters).map(\.name)
            XCTAssertEqual(Set(scales.keys), Set(names.filter { $0.hasSuffix(".weight") }), "\(arch)")
            let sqrt2 = Float(2).squareRoot()
            // toRGB: 1x1 conv from nf(2) = 8 maps at 8x8; gain 1 officially, sqrt(2) in pro_gan_pytorch.
            XCTAssertEqual(
                scales["g.8x8.torgb.weight"]!, (arch == .pgp ? sqrt2 : 1) / Float(8).squareRoot(), accuracy: 1e-7)
            // The latent projection: fan-in = latent (8); gain sqrt(2)/4 officially.
            XCTAssertEqual(
                scales["g.4x4.dense.weight"]!, (arch == .pgp ? sqrt2 : sqrt2 / 4) / Float(8).squareRoot(),
                accuracy: 1e-7)
            XCTAssertEqual(scales["d.4x4.conv.weight"]!, sqrt2 / Float(9 * 9).squareRoot(), accuracy: 1e-7)
        }
        XCTAssertEqual(
            ModelExchange.weightScales(network)["d.4x4.conv1x1.weight"]!, Float(2).squareRoot() / Float(8).squareRoot(),
            accuracy: 1e-7)
    }
}
