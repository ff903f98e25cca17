import Dataset
import Engine
import Model

// Class-conditional training (issue 20): the dataset's labels for the reals, labels drawn from the data
// for G's fakes, and the AC-GAN classification terms of the official loss.py (`D_wgangp_acgan`,
// `G_wgan_acgan`), added to whichever adversarial loss the run uses.

extension TrainingConfig {
    /// This configuration with the dataset's class names in `network.conditioning` when it trains
    /// conditionally: they size the networks and travel with checkpoints and exports. A configuration
    /// that names classes (one written by an earlier run) must name the dataset's.
    func conditioned(on dataset: PreparedDataset) throws -> TrainingConfig {
        guard var conditioning = recipe.network.conditioning else { return self }
        guard !dataset.classNames.isEmpty else {
            throw TrainingError(
                message: "\(dataset.path): conditional training needs a labelled dataset (classes from the first "
                    + "folder level or labels.json when it is prepared); this one has no labels")
        }
        guard conditioning.classNames.isEmpty || conditioning.classNames == dataset.classNames else {
            throw TrainingError(
                message: "\(dataset.path): its classes (\(dataset.classNames.joined(separator: ", "))) are not the "
                    + "configuration's (\(conditioning.classNames.joined(separator: ", ")))")
        }
        conditioning.classNames = dataset.classNames
        var config = self
        config.network.conditioning = conditioning
        try config.network.validate()
        return config
    }
}

extension TrainingRecipe {
    /// The names a step logs, in order: the loss's, with an AC-GAN run's classification terms after D's
    /// and after G's.
    var loggedNames: [String] {
        var names = loss.loggedNames
        guard network.conditioning?.kind == .acgan, let generatorLoss = names.firstIndex(of: "g_loss") else {
            return names
        }
        names.insert("d_class", at: generatorLoss)
        names.append("g_class")
        return names
    }
}

/// The labels of a conditional run's dataset, in dataset order, and the draws of G's classes from them.
struct ClassLabels {
    let labels: [Int]
    let classes: Int
    let random: RandomStreams

    init(labels: [Int], classes: Int, random: RandomStreams) {
        (self.labels, self.classes, self.random) = (labels, classes, random)
    }

    /// Nil for an unconditional configuration.
    init?(config: TrainingConfig, dataset: PreparedDataset, random: RandomStreams) throws {
        guard let conditioning = config.network.conditioning, let labels = try dataset.labels() else { return nil }
        self.init(labels: labels, classes: conditioning.classes, random: random)
    }

    /// One-hot classes [samples.count, classes] of G's fakes for global samples `samples` of `step`: each
    /// the label of a dataset image picked at random, so the fakes follow the data's class frequencies
    /// (official `get_random_labels_tf`).
    func drawn(step: Int, samples: Range<Int>) -> Tensor {
        let picks = random.uniforms(.generatorLabels, step: step, samples: samples).scalars
        return oneHot(
            picks.map { labels[min(labels.count - 1, Int($0 * Float(labels.count)))] }, classes: classes)
    }
}

/// D bound to the classes of the images it scores (the loss functions see scores only). An AC-GAN D's
/// class logits for the batches named at creation are kept, so that the classification terms need no
/// second forward pass.
final class LabelledCritic {
    private let discriminator: Discriminator
    private let labels: Tensor?
    private let alpha: Float
    private let weights: Weights
    /// In the order named: the sum of the terms must not depend on a dictionary's order.
    private var keptLogits: [(images: ObjectIdentifier, logits: Tensor?)]

    init(_ discriminator: Discriminator, labels: Tensor?, alpha: Float, weights: Weights, keepingLogitsOf: [Tensor]) {
        (self.discriminator, self.labels, self.alpha, self.weights) = (discriminator, labels, alpha, weights)
        keptLogits = keepingLogitsOf.map { (ObjectIdentifier($0), nil) }
    }

    func scores(_ images: Tensor) -> Tensor {
        let output = discriminator.outputs(images, labels: labels, alpha: alpha, weights: weights)
        if let index = keptLogits.firstIndex(where: { $0.images == ObjectIdentifier(images) }) {
            keptLogits[index].logits = output.classLogits
        }
        return output.scores
    }

    /// `terms` plus cond_weight × the mean cross-entropy of the kept logits against the labels (logged as
    /// `name`, and included in the logged `total`); `terms` unchanged when D has no classifier.
    func addingClassification(to terms: LossTerms, name: String, total: String) -> LossTerms {
        let logits = keptLogits.compactMap(\.logits)
        guard let labels, let weight = discriminator.config.conditioning?.condWeight, !logits.isEmpty else {
            return terms
        }
        let penalties = logits.map { mean(softmaxCrossEntropy(logits: $0, targets: labels)) }
        let penalty = scale(penalties.dropFirst().reduce(penalties[0], add), weight)
        let sum = add(terms.total, penalty)
        let logged = terms.logged.map { $0.0 == total ? (total, sum.scalar) : $0 } + [(name, penalty.scalar)]
        return LossTerms(total: sum, logged: logged)
    }
}
