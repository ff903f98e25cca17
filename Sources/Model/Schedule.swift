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
    /// Scales the rate down late in the run (unset, as in files written before it existed: never).
    @WrittenAsNull public var learningRateRampdown: LearningRateRampdown?

    public init(
        stabilizeKimg: Double, fadeKimg: Double, minibatch: [Int: Int] = [:],
        minibatchDefault: Int, learningRate: [Int: Float] = [:], learningRateDefault: Float,
        learningRateRampdown: LearningRateRampdown? = nil
    ) {
        (self.stabilizeKimg, self.fadeKimg) = (stabilizeKimg, fadeKimg)
        (self.minibatch, self.minibatchDefault) = (minibatch, minibatchDefault)
        (self.learningRate, self.learningRateDefault) = (learningRate, learningRateDefault)
        self.learningRateRampdown = learningRateRampdown
    }

    public func minibatch(at resolution: Int) -> Int { minibatch[resolution] ?? minibatchDefault }
    public func learningRate(at resolution: Int) -> Float { learningRate[resolution] ?? learningRateDefault }

    public func validate() throws {
        try requireRange("schedule.stabilize_kimg", stabilizeKimg, 0...ConfigLimits.kimg)
        try requireRange("schedule.fade_kimg", fadeKimg, 0...ConfigLimits.kimg)
        try requireRange("schedule.minibatch_default", minibatchDefault, 1...ConfigLimits.batch)
        try requirePositive("schedule.learning_rate_default", learningRateDefault, atMost: Self.learningRateLimit)
        for (table, keys) in [("minibatch", Array(minibatch.keys)), ("learning_rate", Array(learningRate.keys))] {
            for key in keys where key < 4 || key > 1024 || key & (key - 1) != 0 {
                throw ConfigError(
                    message: "schedule.\(table) key \(key) is not a resolution (a power of two from 4 to 1024)")
            }
        }
        for (resolution, batch) in minibatch {
            try requireRange("schedule.minibatch.\(resolution)", batch, 1...ConfigLimits.batch)
        }
        for (resolution, rate) in learningRate {
            try requirePositive("schedule.learning_rate.\(resolution)", rate, atMost: Self.learningRateLimit)
        }
        try learningRateRampdown?.validate()
    }

    /// Far above any rate Adam trains with (the paper's is 0.001).
    public static let learningRateLimit: Float = 10
}

/// A linear ramp of the learning rate from its full value at `startKimg` down to `finalFraction` of it at
/// `endKimg`, held there after. A small minibatch at a high rate trains fast but leaves the weights
/// wandering by a step's noise; lowering the rate at the end lets them settle. The bounds are in images
/// shown, not relative to the run's length, so that a run's weights never depend on how long it was told
/// to train (the length may change on resume). Linear, not cosine: plain arithmetic gives the same bits on
/// every machine, a libm cosine need not.
public struct LearningRateRampdown: Codable, Equatable, Sendable {
    public var startKimg: Double
    public var endKimg: Double
    public var finalFraction: Double

    public init(startKimg: Double, endKimg: Double, finalFraction: Double) {
        (self.startKimg, self.endKimg, self.finalFraction) = (startKimg, endKimg, finalFraction)
    }

    /// The factor on the learning rate after `imagesShown` images.
    public func factor(imagesShown: Int) -> Double {
        let start = Double(wholeImages(kimg: startKimg)), end = Double(wholeImages(kimg: endKimg))
        guard end > start else { return Double(imagesShown) < end ? 1 : finalFraction }
        let progress = min(max((Double(imagesShown) - start) / (end - start), 0), 1)
        return 1 - (1 - finalFraction) * progress
    }

    func validate() throws {
        let key = "schedule.learning_rate_rampdown"
        try requireRange("\(key).start_kimg", startKimg, 0...ConfigLimits.kimg)
        try requireRange("\(key).end_kimg", endKimg, 0...ConfigLimits.kimg)
        guard wholeImages(kimg: endKimg) > wholeImages(kimg: startKimg) else {
            throw ConfigError(message: "\(key).end_kimg \(endKimg) must lie after start_kimg \(startKimg)")
        }
        // Zero would leave every step after the ramp doing nothing.
        try requirePositive("\(key).final_fraction", finalFraction, atMost: 1)
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
    let stabilize = wholeImages(kimg: config.stabilizeKimg), fade = wholeImages(kimg: config.fadeKimg)
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
    var learningRate = config.learningRate(at: resolution)
    if let rampdown = config.learningRateRampdown {
        learningRate = Float(Double(learningRate) * rampdown.factor(imagesShown: imagesShown))
    }
    return SchedulePoint(
        resolution: resolution, phase: phase, alpha: alpha, minibatch: config.minibatch(at: resolution),
        learningRate: learningRate)
}

/// Where each resolution's training begins, in images shown, smallest resolution first: 4x4 at 0 and each
/// larger one at the start of its fade-in (every one at 0 when both durations are zero, as in
/// `schedulePoint`, so that the final resolution comes last). A resolution that never trains starts where
/// the next one does.
public func resolutionStarts(config: ScheduleConfig, finalResolution: Int) -> [(imagesShown: Int, resolution: Int)] {
    let growthSteps = finalResolution.trailingZeroBitCount - 2
    let stabilize = wholeImages(kimg: config.stabilizeKimg), fade = wholeImages(kimg: config.fadeKimg)
    let period = stabilize + fade
    return (0...growthSteps).map { step in
        (imagesShown: period == 0 || step == 0 ? 0 : (step - 1) * period + stabilize, resolution: 4 << step)
    }
}

/// The first number of images at which `schedulePoint` stands at `resolution` with a fade-in weight of
/// at least `alpha`, or at the start of its stabilization for alpha 1: where a run continues from
/// networks trained elsewhere up to that point.
public func imagesShown(atResolution resolution: Int, alpha: Float, config: ScheduleConfig) -> Int {
    let stage = resolution.trailingZeroBitCount - 2
    let stabilize = wholeImages(kimg: config.stabilizeKimg), fade = wholeImages(kimg: config.fadeKimg)
    let period = stabilize + fade
    guard stage > 0, period > 0 else { return 0 }
    guard alpha < 1 else { return stage * period }
    // The smallest k whose alpha, computed as schedulePoint computes it, reaches `alpha`.
    var k = Int((Double(max(alpha, 0)) * Double(fade)).rounded(.down))
    while k > 0 && Float(k - 1) / Float(fade) >= alpha { k -= 1 }
    while k < fade && Float(k) / Float(fade) < alpha { k += 1 }
    return (stage - 1) * period + stabilize + k
}
