import Foundation

/// How long each resolution trains (the run's length is a run setting, not part of the schedule) and with what
/// minibatch and learning rate (official config.py / train.py `TrainingSchedule`). Durations are in kimg: thousands of
/// real images shown to D.
public struct ScheduleConfig: Codable, Equatable, Sendable {
    /// Images shown at each resolution with the new block fully in place (`lod_training_kimg`).
    public var stabilizeKimg: Double
    /// Images shown while a new block fades in (`lod_transition_kimg`).
    public var fadeKimg: Double
    /// Global minibatch per resolution ([4: 128, ...]); resolutions not listed use `minibatchDefault`.
    @ResolutionTable public var minibatch: [Int: Int]
    public var minibatchDefault: Int
    /// Learning rate per resolution; resolutions not listed use `learningRateDefault`.
    @ResolutionTable public var learningRate: [Int: Float]
    public var learningRateDefault: Float

    public init(
        stabilizeKimg: Double, fadeKimg: Double, minibatch: [Int: Int] = [:],
        minibatchDefault: Int, learningRate: [Int: Float] = [:], learningRateDefault: Float
    ) {
        (self.stabilizeKimg, self.fadeKimg) = (stabilizeKimg, fadeKimg)
        (self.minibatch, self.minibatchDefault) = (minibatch, minibatchDefault)
        (self.learningRate, self.learningRateDefault) = (learningRate, learningRateDefault)
    }

    public func minibatch(at resolution: Int) -> Int { minibatch[resolution] ?? minibatchDefault }
    public func learningRate(at resolution: Int) -> Float { learningRate[resolution] ?? learningRateDefault }

    public func validate() throws {
        func fail(_ message: String) -> ConfigError { ConfigError(message: message) }
        guard stabilizeKimg >= 0, fadeKimg >= 0 else { throw fail("stabilize_kimg and fade_kimg must not be negative") }
        let batches = minibatch.map { (String($0.key), $0.value) } + [("default", minibatchDefault)]
        for (key, batch) in batches where batch <= 0 {
            throw fail("minibatch \(batch) for resolution \(key) must be positive")
        }
        for (table, keys) in [("minibatch", Array(minibatch.keys)), ("learning_rate", Array(learningRate.keys))] {
            for key in keys where key < 4 || key > 1024 || key & (key - 1) != 0 {
                throw fail("\(table) key \(key) is not a resolution (a power of two from 4 to 1024)")
            }
        }
        for rate in Array(learningRate.values) + [learningRateDefault] where !(rate > 0) {
            throw fail("learning rate \(rate) must be positive")
        }
    }
}

/// A table keyed by resolution. JSON objects have only string keys, so it is stored as one with the
/// resolutions written out ("4": 128), as config.json has always held it: the bytes of that encoding are
/// hashed into checkpoints. Reading a key that is not a whole number fails with a message naming it.
@propertyWrapper
public struct ResolutionTable<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    public var wrappedValue: [Int: Value]

    public init(wrappedValue: [Int: Value]) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws {
        let stored = try decoder.singleValueContainer().decode([String: Value].self)
        wrappedValue = try Dictionary(
            uniqueKeysWithValues: stored.map { key, value in
                // Only the canonical spelling, so that "04" and "4" cannot both name 4x4.
                guard let resolution = Int(key), String(resolution) == key else {
                    throw DecodingError.dataCorrupted(
                        DecodingError.Context(
                            codingPath: decoder.codingPath, debugDescription: "key '\(key)' is not a resolution"))
                }
                return (resolution, value)
            })
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: wrappedValue.map { (String($0.key), $0.value) }))
    }
}

public enum Phase: String, Codable, Sendable {
    /// The newest block is fully in place.
    case stabilize
    /// The newest block is blending in; alpha rises from 0 to 1.
    case fadeIn = "fade-in"
}

/// Where training stands after a number of images: the resolution being trained, the phase, the
/// fade-in weight of the newest block, and the minibatch and learning rate that apply.
public struct SchedulePoint: Equatable, Sendable {
    public let resolution: Int
    public let phase: Phase
    public let alpha: Float
    public let minibatch: Int
    public let learningRate: Float
}

/// The schedule as a pure function of images shown, following official train.py: starting at 4x4, a
/// stabilization period, then for each larger resolution a fade-in followed by a stabilization period;
/// the final resolution stabilizes until the end of the run. Boundaries are computed in whole images,
/// so no rounding moves a fade-in by a step. With both durations zero the run starts at the final
/// resolution (the official code would stay at 4x4), which is what a benchmark at one size wants.
public func schedulePoint(imagesShown: Int, config: ScheduleConfig, finalResolution: Int) -> SchedulePoint {
    let growthSteps = finalResolution.trailingZeroBitCount - 2
    let stabilize = Int((config.stabilizeKimg * 1000).rounded()), fade = Int((config.fadeKimg * 1000).rounded())
    let period = stabilize + fade
    let periodIndex = period > 0 ? imagesShown / period : growthSteps
    var resolutionLog2 = 2 + min(periodIndex, growthSteps), alpha: Float = 1, phase = Phase.stabilize
    if periodIndex < growthSteps {
        let intoPeriod = imagesShown - periodIndex * period
        if intoPeriod >= stabilize {
            resolutionLog2 += 1
            phase = .fadeIn
            alpha = Float(intoPeriod - stabilize) / Float(fade)
        }
    }
    let resolution = 1 << resolutionLog2
    return SchedulePoint(
        resolution: resolution, phase: phase, alpha: alpha,
        minibatch: config.minibatch(at: resolution), learningRate: config.learningRate(at: resolution))
}

/// The first number of images at which `schedulePoint` stands at `resolution` with a fade-in weight of
/// at least `alpha`, or at the start of its stabilization for alpha 1: where a run continues from
/// networks trained elsewhere up to that point.
public func imagesShown(atResolution resolution: Int, alpha: Float, config: ScheduleConfig) -> Int {
    let stage = resolution.trailingZeroBitCount - 2
    let stabilize = Int((config.stabilizeKimg * 1000).rounded()), fade = Int((config.fadeKimg * 1000).rounded())
    let period = stabilize + fade
    guard stage > 0, period > 0 else { return 0 }
    guard alpha < 1 else { return stage * period }
    // The smallest k whose alpha, computed as schedulePoint computes it, reaches `alpha`.
    var k = Int((Double(max(alpha, 0)) * Double(fade)).rounded(.down))
    while k > 0 && Float(k - 1) / Float(fade) >= alpha { k -= 1 }
    while k < fade && Float(k) / Float(fade) < alpha { k += 1 }
    return (stage - 1) * period + stabilize + k
}
