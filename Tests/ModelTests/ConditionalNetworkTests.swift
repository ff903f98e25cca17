import Engine
import EngineTesting
import XCTest
@testable import Model

/// Class-conditional G and D (official networks.py with `label_size`; Miyato & Koyama's projection D).
final class ConditionalNetworkTests: XCTestCase {
    static let classNames = ["blue", "red", "yellow"]

    func config(_ kind: ConditioningKind, arch: Architecture = .progan) -> NetworkConfig {
        var config = NetworkConfig(
            resolution: 8, fmapBase: 16, fmapMax: 4, latentSize: 4, mbstdGroupSize: 4, arch: arch)
        config.conditioning = Conditioning(kind: kind, classNames: Self.classNames)
        return config
    }

    /// The extra parameters, counted from the layer formulas: G's dense reads 3 more inputs (16 maps·4x4
    /// outputs each); an AC-GAN D's score has 3 more outputs (nf(0) = 4 weights and a bias each); a
    /// projection D has a 3 x nf(0) embedding. Everything else is the unconditional layout.
    func testParameterCounts() {
        let plain = NetworkConfig(resolution: 8, fmapBase: 16, fmapMax: 4, latentSize: 4, mbstdGroupSize: 4)
        let maps = plain.features(stage: 1), headFeatures = plain.features(stage: 0), classes = 3
        for kind in ConditioningKind.allCases {
            XCTAssertEqual(
                Generator(config(kind)).layout.count, Generator(plain).layout.count + classes * maps * 16, "\(kind)")
        }
        XCTAssertEqual(
            Discriminator(config(.acgan)).layout.count,
            Discriminator(plain).layout.count + classes * (headFeatures + 1))
        XCTAssertEqual(
            Discriminator(config(.projection)).layout.count,
            Discriminator(plain).layout.count + classes * headFeatures)
        // The class parameters belong to the 4x4 block: still a prefix of every resolution's.
        let discriminator = Discriminator(config(.projection))
        let embedding = discriminator.layout.parameters.first { $0.name == "d.4x4.embedding.weight" }!
        XCTAssertLessThanOrEqual(
            embedding.offset + embedding.count, discriminator.activeParameterCount(resolution: 4))
    }

    /// The class changes G's images and a projection D's score; an AC-GAN D returns one logit per class
    /// and a score that does not depend on the class it is told.
    func testClassesReachTheOutputs() {
        var random = PhiloxRandom(seed: 21)
        let latents = random.normal(shape: [4, 4]), images = random.normal(shape: [4, 3, 8, 8])
        let first = oneHot([0, 0, 0, 0], classes: 3), second = oneHot([1, 2, 1, 2], classes: 3)
        for kind in ConditioningKind.allCases {
            let generator = Generator(config(kind)), discriminator = Discriminator(config(kind))
            let g = Weights(randomStore(generator.layout, seed: 22))
            let d = Weights(randomStore(discriminator.layout, seed: 23))
            withoutGradients {
                XCTAssertNotEqual(
                    generator(latents, labels: first, resolution: 8, alpha: 1, weights: g).scalars,
                    generator(latents, labels: second, resolution: 8, alpha: 1, weights: g).scalars, "\(kind) G")
                let a = discriminator.outputs(images, labels: first, alpha: 1, weights: d)
                let b = discriminator.outputs(images, labels: second, alpha: 1, weights: d)
                XCTAssertEqual(a.scores.shape, [4, 1])
                switch kind {
                case .acgan:
                    XCTAssertEqual(a.classLogits?.shape, [4, 3])
                    XCTAssertEqual(a.scores.scalars, b.scores.scalars)
                case .projection:
                    XCTAssertNil(a.classLogits)
                    XCTAssertNotEqual(a.scores.scalars, b.scores.scalars)
                }
            }
        }
    }

    /// Without labels a conditional G makes class i mod 3 for sample i.
    func testDefaultClassesTakeTurns() {
        let generator = Generator(config(.acgan)), g = Weights(randomStore(generator.layout, seed: 24))
        var random = PhiloxRandom(seed: 25)
        let latents = random.normal(shape: [4, 4])
        withoutGradients {
            XCTAssertEqual(
                generator(latents, resolution: 8, alpha: 1, weights: g).scalars,
                generator(latents, labels: oneHot([0, 1, 2, 0], classes: 3), resolution: 8, alpha: 1, weights: g)
                    .scalars)
        }
    }

    /// Every parameter's gradient, mid fade-in, against central differences, for both kinds and both
    /// architectures (D's output here: scores, then the AC-GAN logits). Float32 differences through these
    /// leaky-ReLU networks are noisy at the percent level: the unconditional G of the same widths measures
    /// 1.6% with these latents, so the bound is 4%; a wrong pullback is off by far more.
    func testParameterGradientsMatchFiniteDifferences() {
        var random = PhiloxRandom(seed: 26)
        let latents = random.normal(shape: [4, 4]), images = random.normal(shape: [4, 3, 8, 8])
        let labels = oneHot([2, 0, 1, 2], classes: 3)
        for arch in Architecture.allCases {
            for kind in ConditioningKind.allCases {
                let generator = Generator(config(kind, arch: arch))
                let discriminator = Discriminator(config(kind, arch: arch))
                checkParameterGradients(
                    randomStore(generator.layout, seed: 27), "\(arch) \(kind) G", tolerance: 4e-2
                ) {
                    generator(latents, labels: labels, resolution: 8, alpha: 0.6, weights: $0)
                }
                checkParameterGradients(
                    randomStore(discriminator.layout, seed: 28), "\(arch) \(kind) D", tolerance: 4e-2
                ) {
                    let output = discriminator.outputs(images, labels: labels, alpha: 0.6, weights: $0)
                    return output.classLogits.map { concatChannels([output.scores, $0]) } ?? output.scores
                }
            }
        }
    }

    /// The gradient penalty's double backward through a conditional D: d/dθ of ||∂ Σ D(x, y) / ∂x||²
    /// (what WGAN-GP and R1 differentiate) against central differences, for every parameter of the
    /// 4x4 network, both kinds.
    func testPenaltyGradientsThroughConditionalD() {
        var random = PhiloxRandom(seed: 29)
        let images = random.normal(shape: [4, 3, 4, 4]), labels = oneHot([1, 0, 2, 1], classes: 3)
        for kind in ConditioningKind.allCases {
            var small = config(kind)
            small.resolution = 4
            let discriminator = Discriminator(small), store = randomStore(discriminator.layout, seed: 30)
            func penalty() -> Tensor {
                GradientTape.withRecording(true) {
                    let input = images.requiringGradient()
                    let scores = discriminator(input, labels: labels, alpha: 1, weights: Weights(store))
                    return sum(square(grad(of: sum(scores), wrt: [input], createGraph: true)[0]))
                }
            }
            store.zeroGradients()
            backward(penalty())
            let indices = Array(0..<store.count)
            let analytic = indices.map { Double(store.gradients.pointer[$0]) }
            let comparison = FiniteDifferences.compare(
                analytic: analytic, indices: indices, of: store.values.pointer, step: 1e-2
            ) { Double(penalty().scalar) }
            XCTAssertLessThanOrEqual(comparison.skipped * 10, indices.count, "\(kind): too many kinks crossed")
            XCTAssertLessThanOrEqual(
                comparison.relativeError, 2e-2, "\(kind): relative error \(comparison.relativeError)")
            let embedding = discriminator.layout.parameters.first { $0.name.contains("embedding") }
            if let embedding {
                let gradient = analytic[embedding.offset..<(embedding.offset + embedding.count)]
                XCTAssertGreaterThan(gradient.map(abs).max() ?? 0, 0, "the penalty reaches the class embedding")
            }
        }
    }

    func testConditioningConfiguration() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let read = try decoder.decode(Conditioning.self, from: Data(#"{"kind": "projection"}"#.utf8))
        XCTAssertEqual(read, Conditioning(kind: .projection, condWeight: 1, classNames: []))
        XCTAssertEqual(config(.acgan).conditioning?.classIndex("red"), 1)
        XCTAssertEqual(config(.acgan).conditioning?.classIndex("2"), 2)
        XCTAssertNil(config(.acgan).conditioning?.classIndex("3"))
        XCTAssertNil(config(.acgan).conditioning?.classIndex("green"))
        var bad = config(.acgan)
        bad.conditioning?.condWeight = -1
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("cond_weight")) }
        // An unconditional configuration writes no conditioning key: its files keep their bytes.
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let plain = String(decoding: try encoder.encode(NetworkConfig(resolution: 8)), as: UTF8.self)
        XCTAssertFalse(plain.contains("conditioning"))
        let written = try encoder.encode(config(.projection))
        XCTAssertEqual(try decoder.decode(NetworkConfig.self, from: written), config(.projection))
    }
}
