import Foundation
import Model

/// One line of metrics.jsonl: where the run stood at the end of a tick and what it measured. Written by
/// the run, read by the report, the time-lapse and TensorBoard code.
///
/// The line is one flat JSON object: the fixed fields below by their snake_case names, then each loss
/// term and quality figure under its own name ("d_loss", "gradient_penalty", "swd_16", "ms_ssim"), so
/// that a new loss term or metric reaches every reader without a format change.
@dynamicMemberLookup
public struct TickRecord: Equatable {
    public var fields: Fields
    /// Loss terms averaged over the tick; nil for a mean that is not finite (updates skipped by
    /// `skip_non_finite_steps`), which JSON cannot hold.
    public var losses: [String: Double?]
    /// Quality figures of the averaged generator, on the ticks where they are measured.
    public var quality: [String: Double]

    /// Where the run stood and how fast it went: the keys every line has.
    public struct Fields: Codable, Equatable {
        public var tick: Int
        public var step: Int
        public var kimg: Double
        public var resolution: Int
        public var phase: Phase
        public var alpha: Double
        public var minibatch: Int
        public var learningRate: Double
        public var skippedUpdates: Int
        public var imagesPerSecond: Double
        public var tickSeconds: Double
        /// Absent from lines written before it was measured.
        public var peakResidentMiB: Double?
        /// The tick's sample grid, relative to the run directory.
        public var grid: String
        /// How long training paused to copy the checkpoints taken in the tick (absent when none was).
        public var checkpointPauseSeconds: Double?
        /// The run's estimate of the wall-clock seconds it had left at the end of the tick (`RemainingTime`),
        /// and the wall-clock seconds since the previous line (or the start), tick end included: together
        /// they check the estimate. Absent from lines written before they were recorded.
        public var etaSeconds: Double?
        public var wallSeconds: Double?
        /// The batch job and its restart count, when the run is a Slurm job.
        public var slurmJobID: String?
        public var slurmRestartCount: Int?

        public init(
            tick: Int, step: Int, kimg: Double, resolution: Int, phase: Phase, alpha: Double, minibatch: Int,
            learningRate: Double, skippedUpdates: Int, imagesPerSecond: Double, tickSeconds: Double,
            peakResidentMiB: Double?, grid: String
        ) {
            (self.tick, self.step, self.kimg, self.resolution, self.phase) = (tick, step, kimg, resolution, phase)
            (self.alpha, self.minibatch, self.learningRate) = (alpha, minibatch, learningRate)
            (self.skippedUpdates, self.imagesPerSecond, self.tickSeconds) = (
                skippedUpdates, imagesPerSecond, tickSeconds
            )
            (self.peakResidentMiB, self.grid) = (peakResidentMiB, grid)
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case tick, step, kimg, resolution, phase, alpha, minibatch, grid
            case learningRate = "learning_rate"
            case skippedUpdates = "skipped_updates"
            case imagesPerSecond = "images_per_second"
            case tickSeconds = "tick_seconds"
            case peakResidentMiB = "peak_rss_mib"
            case checkpointPauseSeconds = "checkpoint_pause_seconds"
            case etaSeconds = "eta_seconds"
            case wallSeconds = "wall_seconds"
            case slurmJobID = "slurm_job_id"
            case slurmRestartCount = "slurm_restart_count"
        }
    }

    public init(_ fields: Fields, losses: [String: Double?], quality: [String: Double]) {
        (self.fields, self.losses, self.quality) = (fields, losses, quality)
    }

    public subscript<Value>(dynamicMember path: WritableKeyPath<Fields, Value>) -> Value {
        get { fields[keyPath: path] }
        set { fields[keyPath: path] = newValue }
    }

    /// Quality figures are named by what they measure; every other free key is a loss term.
    static func isQualityKey(_ key: String) -> Bool {
        key.hasPrefix("swd_") || ["ms_ssim", "fid", "kid"].contains(key)
    }

    /// The scalars a dashboard plots, by kind, with the names metrics.jsonl uses.
    public var scalars: [(tag: String, value: Double)] {
        let losses = self.losses.sorted { $0.key < $1.key }.compactMap { key, value in value.map { (key, $0) } }
        let quality = self.quality.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let run: [(String, Double?)] = [
            ("resolution", Double(fields.resolution)), ("alpha", fields.alpha), ("minibatch", Double(fields.minibatch)),
            ("learning_rate", fields.learningRate), ("skipped_updates", Double(fields.skippedUpdates)),
            ("images_per_second", fields.imagesPerSecond), ("tick_seconds", fields.tickSeconds),
            ("peak_rss_mib", fields.peakResidentMiB), ("checkpoint_pause_seconds", fields.checkpointPauseSeconds),
            ("eta_seconds", fields.etaSeconds), ("wall_seconds", fields.wallSeconds),
            ("slurm_restart_count", fields.slurmRestartCount.map(Double.init)),
        ]
        return (losses + quality + run.compactMap { name, value in value.map { (name, $0) } }).map {
            (tag: $0.0, value: $0.1)
        }
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

    public init(from decoder: Decoder) throws {
        fields = try Fields(from: decoder)
        let container = try decoder.container(keyedBy: Key.self)
        losses = [:]
        quality = [:]
        for key in container.allKeys where Fields.CodingKeys(rawValue: key.stringValue) == nil {
            let number = try container.decodeIfPresent(Double.self, forKey: key)
            if Self.isQualityKey(key.stringValue) {
                if let number { quality[key.stringValue] = number }
            } else {
                losses[key.stringValue] = .some(number)
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        try fields.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        for (name, value) in losses { try container.encode(value, forKey: Key(name)) }
        for (name, value) in quality { try container.encode(value, forKey: Key(name)) }
    }

    /// One metrics.jsonl line (keys sorted, so equal records give equal lines).
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A line as the run wrote it; a damaged or hand-edited line fails to decode, or with a `ConfigError`
    /// naming the key whose figure no run writes.
    public static func parse(_ line: some StringProtocol) throws -> TickRecord {
        let record = try JSONDecoder().decode(TickRecord.self, from: Data(line.utf8))
        try record.fields.validate()
        return record
    }
}

extension TickRecord.Fields {
    /// The most of anything a run counts (ticks, steps, skipped updates): one per image at most.
    private static let countLimit = wholeImages(kimg: ConfigLimits.kimg)
    /// The most seconds, images per second or MiB a line may hold: far beyond any run.
    private static let measureLimit = 1e12

    func validate() throws {
        for (key, count) in [("tick", tick), ("step", step), ("skipped_updates", skippedUpdates)] {
            try requireRange(key, count, 0...Self.countLimit)
        }
        try requireRange("slurm_restart_count", slurmRestartCount ?? 0, 0...Self.countLimit)
        try requireRange("kimg", kimg, 0...ConfigLimits.kimg)
        try requireResolution(resolution)
        try requireRange("alpha", alpha, 0...1)
        try requireRange("minibatch", minibatch, 1...ConfigLimits.batch)
        let measures: [(String, Double?)] = [
            ("learning_rate", learningRate), ("images_per_second", imagesPerSecond), ("tick_seconds", tickSeconds),
            ("peak_rss_mib", peakResidentMiB), ("checkpoint_pause_seconds", checkpointPauseSeconds),
            ("eta_seconds", etaSeconds), ("wall_seconds", wallSeconds),
        ]
        for case let (key, value?) in measures { try requireRange(key, value, 0...Self.measureLimit) }
        // Readers open the grid inside the run directory: an absolute path or `..` would leave it.
        guard !grid.isEmpty, !grid.hasPrefix("/"), !grid.split(separator: "/").contains("..") else {
            throw ConfigError(message: "grid '\(grid)' is not a path inside the run directory")
        }
    }
}

/// A figure rounded to `digits` significant digits, as the logs keep them: more would only be noise.
func rounded(_ value: Double, significantDigits digits: Int) -> Double {
    guard value.isFinite, value != 0 else { return value }
    return Double(String(format: "%.\(digits)g", value)) ?? value
}
