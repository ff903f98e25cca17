import Engine
import Foundation

/// How D uses the class of an image.
public enum ConditioningKind: String, Codable, CaseIterable, Sendable {
    /// The official ProGAN's (networks.py with `label_size`, loss.py's `*_acgan` losses): D's last dense
    /// layer also outputs one logit per class, an auxiliary classifier trained by cross-entropy on reals
    /// and fakes (Odena et al. 2017).
    case acgan
    /// A projection discriminator (Miyato & Koyama 2018): D's score gains the inner product of a learned
    /// class embedding with D's last features.
    case projection
}

/// Class-conditional training: G gets the one-hot class concatenated to its latent (as the official
/// code does for both kinds), D is conditioned by `kind`.
public struct Conditioning: Codable, Equatable, Sendable {
    public var kind: ConditioningKind
    /// Weight of the AC-GAN classification terms (official loss.py `cond_weight`); projection has none.
    public var condWeight: Float
    /// The classes in label order, taken from the dataset when training starts; their count sizes the
    /// networks, and `generate --class` finds a class by name here.
    public var classNames: [String]

    public init(kind: ConditioningKind, condWeight: Float = 1, classNames: [String] = []) {
        (self.kind, self.condWeight, self.classNames) = (kind, condWeight, classNames)
    }

    private enum CodingKeys: String, CodingKey { case kind, condWeight, classNames }

    /// A configuration file names the kind, perhaps the weight; the class names come from the dataset.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(ConditioningKind.self, forKey: .kind)
        condWeight = try container.decodeIfPresent(Float.self, forKey: .condWeight) ?? 1
        classNames = try container.decodeIfPresent([String].self, forKey: .classNames) ?? []
    }

    public var classes: Int { classNames.count }

    func validate() throws {
        try requireRange("network.conditioning.cond_weight", condWeight, 0...1e6)
        try requireRange("network.conditioning.class_names (count)", classNames.count, 0...Self.classLimit)
    }

    /// More classes than any dataset format we read can label.
    public static let classLimit = 1 << 14

    /// The class of a name, or of a decimal index; nil when neither names one.
    public func classIndex(_ text: String) -> Int? {
        if let index = classNames.firstIndex(of: text) { return index }
        guard let index = Int(text), classNames.indices.contains(index) else { return nil }
        return index
    }
}

/// One-hot rows [N, classes] for class indices.
public func oneHot(_ labels: [Int], classes: Int) -> Tensor {
    let out = Tensor(zeros: [labels.count, classes])
    for (row, label) in labels.enumerated() {
        precondition((0..<classes).contains(label), "label \(label) outside \(classes) classes")
        out.pointer[row * classes + label] = 1
    }
    return out
}

extension NetworkConfig {
    /// Length of the one-hot class vector G and D take (0: unconditional).
    public var labelSize: Int { conditioning?.classes ?? 0 }
}
