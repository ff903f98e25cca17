import Engine
import XCTest
@testable import Model

final class ParameterInitializationTests: XCTestCase {
    /// G and D of both architectures, with and without the minibatch-stddev map.
    private let configs = Architecture.allCases.flatMap { arch in
        [
            NetworkConfig(resolution: 16, fmapBase: 64, fmapMax: 16, latentSize: 16, arch: arch),
            NetworkConfig(resolution: 32, fmapBase: 128, fmapMax: 32, mbstdGroupSize: 1, arch: arch),
        ]
    }

    private func layouts(_ config: NetworkConfig) -> [(String, ParameterLayout)] {
        [("G", Generator(config).layout), ("D", Discriminator(config).layout)]
    }

    /// The layers name their parameters "<layer>.weight" and "<layer>.bias"; initialization once went by
    /// that suffix, and each declared role must say the same.
    func testDeclaredRolesAgreeWithParameterNames() {
        for config in configs {
            for (network, layout) in layouts(config) {
                for parameter in layout.parameters {
                    XCTAssertEqual(
                        parameter.role, parameter.name.hasSuffix(".bias") ? .bias : .weight,
                        "\(network) \(config.arch) \(parameter.name)")
                }
                XCTAssertTrue(layout.parameters.contains { $0.role == .bias }, "\(network) \(config.arch)")
            }
        }
    }

    /// The same seed gives the same initial weights, bit for bit, as the rule by name did (weights N(0, 1)
    /// in declaration order, biases zero).
    func testInitializationIsThatOfTheNameRule() {
        for config in configs {
            for (network, layout) in layouts(config) {
                let byRole = ParameterStore(layout: layout), byName = ParameterStore(layout: layout)
                var random = PhiloxRandom(seed: 7)
                initializeParameters(byRole, random: &random)
                random = PhiloxRandom(seed: 7)
                byName.initialize { parameter, values in
                    if parameter.name.hasSuffix(".bias") {
                        values.initialize(repeating: 0)
                    } else {
                        random.fillNormal(values)
                    }
                }
                let values = { (store: ParameterStore) in
                    UnsafeBufferPointer(start: store.values.pointer, count: store.count).map(\.bitPattern)
                }
                XCTAssertEqual(values(byRole), values(byName), "\(network) \(config.arch) \(config.resolution)")
                XCTAssertTrue(values(byRole).contains { $0 != 0 }, "\(network): no weight drawn")
            }
        }
    }
}
