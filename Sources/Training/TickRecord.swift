import Foundation
import Model

/// One line of metrics.jsonl: where the run stood at the end of a tick and what it measured. Written by
/// the run, read by the report, the time-lapse and TensorBoard code.
///
/// The line is one flat JSON object: the fixed fields below by their snake_case names, then each loss
/// term and quality figure under its own name ("d_loss", "gradient_penalty", "swd_16", "ms_ssim"), so
/// that a new loss term or metric reaches every reader without a format change.
public struct TickRecord: Equatable {
    public var tick: Int
    public var step: Int
    public var kimg: Double
    public var resolution: Int
    public var phase: Phase
    public var alpha: Double
    public var minibatch: Int
    public var learningRate: Double
    /// Loss terms averaged over the tick; nil for a mean that is not finite (updates skipped by
    /// `skip_non_finite_steps`), which JSON cannot hold.
    public var losses: [String: Double?]
    /// Quality figures of the averaged generator, on the ticks where they are measured.
    public var quality: [String: Double]
    public var skippedUpdates: Int
    public var imagesPerSecond: Double
    public var tickSeconds: Double
    public var peakResidentMiB: Double
    /// The tick's sample grid, relative to the run directory.
    public var grid: String
    /// How long training paused to copy the checkpoints taken in this tick (nil when none was).
    public var checkpointPauseSeconds: Double?
    /// The batch job and its restart count, when the run is a Slurm job.
    public var slurmJobID: String?
    public var slurmRestartCount: Int?

    public init(
        tick: Int, step: Int, kimg: Double, resolution: Int, phase: Phase, alpha: Double, minibatch: Int,
        learningRate: Double, losses: [String: Double?], quality: [String: Double], skippedUpdates: Int,
        imagesPerSecond: Double, tickSeconds: Double, peakResidentMiB: Double, grid: String
    ) {
        (self.tick, self.step, self.kimg, self.resolution, self.phase) = (tick, step, kimg, resolution, phase)
        (self.alpha, self.minibatch, self.learningRate) = (alpha, minibatch, learningRate)
        (self.losses, self.quality, self.skippedUpdates) = (losses, quality, skippedUpdates)
        (self.imagesPerSecond, self.tickSeconds, self.peakResidentMiB) = (imagesPerSecond, tickSeconds, peakResidentMiB)
        self.grid = grid
    }

    /// Quality figures are named by what they measure; every other free key is a loss term.
    static func isQualityKey(_ key: String) -> Bool { key.hasPrefix("swd_") || key == "ms_ssim" }

    /// The scalars a dashboard plots, by kind, with the names metrics.jsonl uses.
    public var scalars: [(tag: String, value: Double)] {
        let losses = self.losses.sorted { $0.key < $1.key }.compactMap { key, value in value.map { (key, $0) } }
        let quality = self.quality.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let run: [(String, Double)] = [
            ("resolution", Double(resolution)), ("alpha", alpha), ("minibatch", Double(minibatch)),
            ("learning_rate", learningRate), ("skipped_updates", Double(skippedUpdates)),
            ("images_per_second", imagesPerSecond), ("tick_seconds", tickSeconds), ("peak_rss_mib", peakResidentMiB),
        ]
        return (losses + quality + run).map { (tag: $0.0, value: $0.1) }
    }
}

extension TickRecord: Codable {
    private struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    private static let fixedKeys: Set = [
        "tick", "step", "kimg", "resolution", "phase", "alpha", "minibatch", "learning_rate", "skipped_updates",
        "images_per_second", "tick_seconds", "peak_rss_mib", "grid", "checkpoint_pause_seconds", "slurm_job_id",
        "slurm_restart_count",
    ]

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        func value<T: Decodable>(_ name: String) throws -> T { try container.decode(T.self, forKey: Key(name)) }
        func optional<T: Decodable>(_ name: String, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: Key(name)) ?? fallback
        }
        tick = try value("tick")
        step = try value("step")
        kimg = try value("kimg")
        resolution = try value("resolution")
        phase = try value("phase")
        alpha = try value("alpha")
        minibatch = try value("minibatch")
        learningRate = try value("learning_rate")
        grid = try value("grid")
        skippedUpdates = try optional("skipped_updates", 0)
        imagesPerSecond = try optional("images_per_second", 0)
        tickSeconds = try optional("tick_seconds", 0)
        peakResidentMiB = try optional("peak_rss_mib", 0)
        checkpointPauseSeconds = try container.decodeIfPresent(Double.self, forKey: Key("checkpoint_pause_seconds"))
        slurmJobID = try container.decodeIfPresent(String.self, forKey: Key("slurm_job_id"))
        slurmRestartCount = try container.decodeIfPresent(Int.self, forKey: Key("slurm_restart_count"))
        losses = [:]
        quality = [:]
        for key in container.allKeys where !Self.fixedKeys.contains(key.stringValue) {
            let number = try container.decodeIfPresent(Double.self, forKey: key)
            if Self.isQualityKey(key.stringValue) {
                if let number { quality[key.stringValue] = number }
            } else {
                losses[key.stringValue] = .some(number)
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(tick, forKey: Key("tick"))
        try container.encode(step, forKey: Key("step"))
        try container.encode(kimg, forKey: Key("kimg"))
        try container.encode(resolution, forKey: Key("resolution"))
        try container.encode(phase, forKey: Key("phase"))
        try container.encode(alpha, forKey: Key("alpha"))
        try container.encode(minibatch, forKey: Key("minibatch"))
        try container.encode(learningRate, forKey: Key("learning_rate"))
        try container.encode(skippedUpdates, forKey: Key("skipped_updates"))
        try container.encode(imagesPerSecond, forKey: Key("images_per_second"))
        try container.encode(tickSeconds, forKey: Key("tick_seconds"))
        try container.encode(peakResidentMiB, forKey: Key("peak_rss_mib"))
        try container.encode(grid, forKey: Key("grid"))
        try container.encodeIfPresent(checkpointPauseSeconds, forKey: Key("checkpoint_pause_seconds"))
        try container.encodeIfPresent(slurmJobID, forKey: Key("slurm_job_id"))
        try container.encodeIfPresent(slurmRestartCount, forKey: Key("slurm_restart_count"))
        for (name, value) in losses { try container.encode(value, forKey: Key(name)) }
        for (name, value) in quality { try container.encode(value, forKey: Key(name)) }
    }

    /// One metrics.jsonl line (keys sorted, so equal records give equal lines).
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func parse(_ line: some StringProtocol) throws -> TickRecord {
        try JSONDecoder().decode(TickRecord.self, from: Data(line.utf8))
    }
}

/// A figure rounded to `digits` significant digits, as the logs keep them: more would only be noise.
func rounded(_ value: Double, significantDigits digits: Int) -> Double {
    guard value.isFinite, value != 0 else { return value }
    return Double(String(format: "%.\(digits)g", value)) ?? value
}
