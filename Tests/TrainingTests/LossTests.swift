import Engine
import EngineTesting
import Foundation
import Model
import XCTest
@testable import Training

/// Each loss's gradients against central differences, on a tiny smooth critic and generator (two
/// dense layers with softplus). Smoothness matters here: through leaky ReLUs the penalty's gradient
/// jumps wherever a unit changes sign, and a single weight of a real ProGAN network moves a float32
/// loss by little more than its rounding, so differences there measure noise. The real networks' ops,
/// including the double backward of a D-like chain, are checked one by one in EngineTests.
final class LossTests: XCTestCase {
    struct TinyNetworks {
        let layout: ParameterLayout
        let store: ParameterStore
        let criticHidden: EqualizedDense, criticScore: EqualizedDense, generatorLayer: EqualizedDense

        init(seed: UInt64) {
            var layout = ParameterLayout()
            criticHidden = EqualizedDense(&layout, "critic.hidden", input: 12, output: 6)
            criticScore = EqualizedDense(&layout, "critic.score", input: 6, output: 1, gain: 1)
            generatorLayer = EqualizedDense(&layout, "generator", input: 3, output: 12)
            self.layout = layout
            store = ParameterStore(layout: layout)
            var random = PhiloxRandom(seed: seed)
            store.initialize { _, values in random.fillNormal(values) }
        }

        func critic(_ images: Tensor) -> Tensor {
            criticScore(softplus(criticHidden(reshape(images, [images.shape[0], 12]), Weights(store))), Weights(store))
        }

        func generate(_ latents: Tensor) -> Tensor {
            reshape(softplus(generatorLayer(latents, Weights(store))), [latents.shape[0], 3, 2, 2])
        }
    }

    private func assertGradientMatches(_ store: ParameterStore, _ name: String, loss: () -> Tensor) {
        store.zeroGradients()
        backward(loss())
        let analytic = (0..<store.count).map { Double(store.gradients.pointer[$0]) }
        let result = FiniteDifferences.compare(
            analytic: analytic, indices: Array(0..<store.count), of: store.values.pointer,
            step: 1e-2
        ) { Double(loss().scalar) }
        XCTAssertLessThanOrEqual(result.skipped * 10, store.count, "\(name): \(result.skipped) steps crossed kinks")
        XCTAssertLessThanOrEqual(result.relativeError, 1e-2, "\(name): relative error \(result.relativeError)")
        XCTAssertGreaterThan(analytic.map(abs).max() ?? 0, 1e-3, "\(name): the gradient is all but zero")
    }

    func testDiscriminatorLossGradients() {
        let networks = TinyNetworks(seed: 1)
        var random = PhiloxRandom(seed: 2)
        let reals = random.normal(shape: [4, 3, 2, 2]), fakes = random.normal(shape: [4, 3, 2, 2])
        let uniforms = random.uniform(shape: [4])
        for kind in LossKind.allCases {
            var config = LossConfig()
            config.kind = kind
            assertGradientMatches(networks.store, "D loss \(kind.rawValue)") {
                discriminatorLoss(config, reals: reals, fakes: fakes, critic: networks.critic, uniforms: uniforms).total
            }
        }
    }

    /// The penalty alone: its gradient is the double backward through the critic.
    func testGradientPenaltyGradient() {
        let networks = TinyNetworks(seed: 3)
        var random = PhiloxRandom(seed: 4)
        let reals = random.normal(shape: [4, 3, 2, 2]), fakes = random.normal(shape: [4, 3, 2, 2])
        let uniforms = random.uniform(shape: [4])
        assertGradientMatches(networks.store, "gradient penalty") {
            gradientPenalty(LossConfig(), reals: reals, fakes: fakes, critic: networks.critic, uniforms: uniforms)
        }
    }

    func testGeneratorLossGradients() {
        let networks = TinyNetworks(seed: 5)
        var random = PhiloxRandom(seed: 6)
        let latents = random.normal(shape: [4, 3]), reals = random.normal(shape: [4, 3, 2, 2])
        for kind in LossKind.allCases {
            var config = LossConfig()
            config.kind = kind
            assertGradientMatches(networks.store, "G loss \(kind.rawValue)") {
                generatorLoss(
                    config, fakeScores: networks.critic(networks.generate(latents)),
                    realScores: { networks.critic(reals) }
                ).total
            }
        }
    }

    func testLossValuesOnKnownScores() {
        // D scores 2 on reals and -1 on fakes: hinge D loss = relu(1 - 2) + relu(1 - 1) = 0; G hinge = 1.
        let critic = { (images: Tensor) -> Tensor in addScalar(scale(reshape(images, [images.shape[0], 1]), 1.5), 0.5) }
        let reals = Tensor(shape: [2, 1, 1, 1], repeating: 1), fakes = Tensor(shape: [2, 1, 1, 1], repeating: -1)
        var config = LossConfig()
        config.kind = .hinge
        XCTAssertEqual(
            discriminatorLoss(config, reals: reals, fakes: fakes, critic: critic, uniforms: Tensor(zeros: [2])).total
                .scalar, 0)
        XCTAssertEqual(generatorLoss(config, fakeScores: critic(fakes), realScores: { critic(reals) }).total.scalar, 1)
        config.kind = .logistic
        config.r1Gamma = 0
        let logistic = discriminatorLoss(
            config, reals: reals, fakes: fakes, critic: critic, uniforms: Tensor(zeros: [2])
        ).total.scalar
        // softplus(D(fake)) + softplus(-D(real)) = log(1 + e^-1) + log(1 + e^-2).
        XCTAssertEqual(Double(logistic), log1p(exp(-1.0)) + log1p(exp(-2.0)), accuracy: 1e-5)
        config.kind = .relativisticHinge
        // relu(1 - (2 - (-1))) + relu(1 + (-1 - 2)) = 0.
        XCTAssertEqual(
            discriminatorLoss(config, reals: reals, fakes: fakes, critic: critic, uniforms: Tensor(zeros: [2])).total
                .scalar, 0)
    }

    /// A rank without a micro-batch logs zeros under `loggedNames`: they must be what the losses log, in
    /// order, or the ranks' logs would not line up in the sum.
    func testLoggedNamesAreWhatEachLossLogs() {
        let critic = { (images: Tensor) -> Tensor in sumPerSample(images) }
        let reals = Tensor(shape: [2, 1, 1, 1], repeating: 1), fakes = Tensor(shape: [2, 1, 1, 1], repeating: -1)
        for kind in LossKind.allCases {
            var config = LossConfig()
            config.kind = kind
            let d = discriminatorLoss(config, reals: reals, fakes: fakes, critic: critic, uniforms: Tensor(zeros: [2]))
            let g = generatorLoss(config, fakeScores: critic(fakes), realScores: { critic(reals) })
            XCTAssertEqual((d.logged + g.logged).map(\.0), config.loggedNames, kind.rawValue)
        }
    }
}
