import Engine
import Model

public enum LossKind: String, Codable, CaseIterable, Sendable {
    /// Wasserstein loss with gradient penalty and drift term (the paper's, section 6 / official loss.py).
    case wganGP = "wgan-gp"
    /// Non-saturating logistic loss with the R1 penalty on real images (Mescheder et al. 2018).
    case logistic
    /// Hinge loss (Lim & Ye 2017).
    case hinge
    /// Relativistic average hinge loss (Jolicoeur-Martineau 2018).
    case relativisticHinge = "relativistic-hinge"
}

public struct LossConfig: Codable, Equatable, Sendable {
    public var kind: LossKind = .wganGP
    /// WGAN-GP penalty weight λ and target norm γ: λ (||∇D(x̂)|| - γ)² / γ².
    public var gpLambda: Float = 10
    public var gpTarget: Float = 1
    /// WGAN-GP drift term weight ε on D(real)², which keeps scores from drifting away from zero.
    public var driftEpsilon: Float = 0.001
    /// R1 weight γ for the logistic loss: γ/2 ||∇D(real)||².
    public var r1Gamma: Float = 10

    public init() {}

    func validate() throws {
        guard gpLambda >= 0, gpTarget > 0, driftEpsilon >= 0, r1Gamma >= 0 else {
            throw ConfigError(
                message: "loss: gp_lambda, drift_epsilon and r1_gamma must not be negative, gp_target must be positive")
        }
    }
}

extension LossConfig {
    /// The names `discriminatorLoss` and then `generatorLoss` log, in order: what a rank without a
    /// micro-batch reports (as zeros).
    var loggedNames: [String] {
        switch kind {
        case .wganGP: ["d_loss", "wasserstein", "gp", "drift", "g_loss"]
        case .logistic: ["d_loss", "r1", "g_loss"]
        case .hinge, .relativisticHinge: ["d_loss", "g_loss"]
        }
    }
}

/// A loss and the terms that make it up, for logging.
public struct LossTerms {
    public let total: Tensor
    public var logged: [(String, Float)]
}

/// ||∂ Σ D(x) / ∂x||² per sample, recorded so the penalty built from it can be differentiated.
/// Records even when called without gradients (as in an evaluation), since the input gradient needs the graph.
private func squaredInputGradientNorms(_ x: Tensor, _ critic: (Tensor) -> Tensor) -> Tensor {
    GradientTape.withRecording(true) {
        let input = x.requiringGradient()
        let gradient = grad(of: sum(critic(input)), wrt: [input], createGraph: true)[0]
        return sumPerSample(square(gradient))
    }
}

/// D's loss for one minibatch of reals and (detached) fakes. `critic` runs D with trainable weights;
/// `uniforms` gives the WGAN-GP interpolation weight per sample.
public func discriminatorLoss(
    _ config: LossConfig, reals: Tensor, fakes: Tensor, critic: (Tensor) -> Tensor,
    uniforms: Tensor
) -> LossTerms {
    let realScores = critic(reals), fakeScores = critic(fakes)
    switch config.kind {
    case .wganGP:
        // Official loss.py: D(fake) - D(real), the penalty at x̂ = lerp(real, fake, u), and the drift term.
        let wasserstein = sub(mean(fakeScores), mean(realScores))
        let penalty = gradientPenalty(config, reals: reals, fakes: fakes, critic: critic, uniforms: uniforms)
        let drift = scale(mean(square(realScores)), config.driftEpsilon)
        let total = add(add(wasserstein, penalty), drift)
        return LossTerms(
            total: total,
            logged: [
                ("d_loss", total.scalar), ("wasserstein", wasserstein.scalar),
                ("gp", penalty.scalar), ("drift", drift.scalar),
            ])
    case .logistic:
        let adversarial = add(mean(softplus(fakeScores)), mean(softplus(scale(realScores, -1))))
        let r1 = scale(mean(squaredInputGradientNorms(reals, critic)), config.r1Gamma / 2)
        let total = add(adversarial, r1)
        return LossTerms(total: total, logged: [("d_loss", total.scalar), ("r1", r1.scalar)])
    case .hinge:
        let total = add(mean(relu(addScalar(scale(realScores, -1), 1))), mean(relu(addScalar(fakeScores, 1))))
        return LossTerms(total: total, logged: [("d_loss", total.scalar)])
    case .relativisticHinge:
        let (realRelative, fakeRelative) = relativeScores(realScores, fakeScores)
        let total = add(mean(relu(addScalar(scale(realRelative, -1), 1))), mean(relu(addScalar(fakeRelative, 1))))
        return LossTerms(total: total, logged: [("d_loss", total.scalar)])
    }
}

/// The WGAN-GP penalty λ·mean((||∇D(x̂)|| − γ)²)/γ² at x̂ = lerp(real, fake, u), one u per sample
/// (Gulrajani et al. 2017, with the official code's target γ).
public func gradientPenalty(
    _ config: LossConfig, reals: Tensor, fakes: Tensor, critic: (Tensor) -> Tensor, uniforms: Tensor
) -> Tensor {
    let interpolated = add(reals, mul(sub(fakes, reals), broadcastPerSample(uniforms, to: reals.shape)))
    let norms = sqrt(squaredInputGradientNorms(interpolated, critic))
    return scale(
        mean(square(addScalar(norms, -config.gpTarget))), config.gpLambda / (config.gpTarget * config.gpTarget))
}

/// G's loss from D's scores of fakes (and, for the relativistic loss, of reals).
public func generatorLoss(_ config: LossConfig, fakeScores: Tensor, realScores: () -> Tensor) -> LossTerms {
    let total: Tensor
    switch config.kind {
    case .wganGP, .hinge:
        total = scale(mean(fakeScores), -1)
    case .logistic:
        total = mean(softplus(scale(fakeScores, -1)))
    case .relativisticHinge:
        let (realRelative, fakeRelative) = relativeScores(realScores(), fakeScores)
        total = add(mean(relu(addScalar(realRelative, 1))), mean(relu(addScalar(scale(fakeRelative, -1), 1))))
    }
    return LossTerms(total: total, logged: [("g_loss", total.scalar)])
}

/// D(real) - mean D(fake) and D(fake) - mean D(real).
private func relativeScores(_ real: Tensor, _ fake: Tensor) -> (Tensor, Tensor) {
    (sub(real, broadcastScalar(mean(fake), to: real.shape)), sub(fake, broadcastScalar(mean(real), to: fake.shape)))
}
