import Foundation
import Model
import SafeIO

// config.json: one flat object holding both parts of the configuration. Optional settings are written
// as null rather than left out, so a run's config.json names every setting and reads back as the same
// configuration whatever preset it is laid over.

extension TrainingConfig: Codable {
    public init(from decoder: Decoder) throws {
        recipe = try TrainingRecipe(from: decoder)
        run = try RunSettings(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try recipe.encode(to: encoder)
        try run.encode(to: encoder)
    }
}

extension TrainingRecipe: Codable {
    enum CodingKeys: String, CodingKey {
        case network, schedule, loss, adam, ema, resetOptimizerOnGrowth, mirror, seed, deterministic, microbatch,
            skipNonFiniteSteps, bucketValues
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        network = try container.decode(NetworkConfig.self, forKey: .network)
        schedule = try container.decode(ScheduleConfig.self, forKey: .schedule)
        loss = try container.decode(LossConfig.self, forKey: .loss)
        adam = try container.decode(AdamConfig.self, forKey: .adam)
        ema = try container.decode(EMAConfig.self, forKey: .ema)
        resetOptimizerOnGrowth = try container.decode(Bool.self, forKey: .resetOptimizerOnGrowth)
        mirror = try container.decode(Bool.self, forKey: .mirror)
        seed = try container.decode(UInt64.self, forKey: .seed)
        deterministic = try container.decode(Bool.self, forKey: .deterministic)
        microbatch = try container.decodeIfPresent(Int.self, forKey: .microbatch)
        skipNonFiniteSteps = try container.decode(Bool.self, forKey: .skipNonFiniteSteps)
        bucketValues = try container.decode(Int.self, forKey: .bucketValues)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(network, forKey: .network)
        try container.encode(schedule, forKey: .schedule)
        try container.encode(loss, forKey: .loss)
        try container.encode(adam, forKey: .adam)
        try container.encode(ema, forKey: .ema)
        try container.encode(resetOptimizerOnGrowth, forKey: .resetOptimizerOnGrowth)
        try container.encode(mirror, forKey: .mirror)
        try container.encode(seed, forKey: .seed)
        try container.encode(deterministic, forKey: .deterministic)
        try container.encode(microbatch, forKey: .microbatch)
        try container.encode(skipNonFiniteSteps, forKey: .skipNonFiniteSteps)
        try container.encode(bucketValues, forKey: .bucketValues)
    }
}

extension TrainingRecipe.EMAConfig: Codable {
    enum CodingKeys: String, CodingKey { case beta, halfLifeKimg, rampup }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        beta = try container.decode(Double.self, forKey: .beta)
        halfLifeKimg = try container.decodeIfPresent(Double.self, forKey: .halfLifeKimg)
        rampup = try container.decodeIfPresent(Double.self, forKey: .rampup)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(beta, forKey: .beta)
        try container.encode(halfLifeKimg, forKey: .halfLifeKimg)
        try container.encode(rampup, forKey: .rampup)
    }
}

extension RunSettings: Codable {
    enum CodingKeys: String, CodingKey {
        case totalKimg, tickKimg, checkpointTicks, checkpointMinutes, keepCheckpoints, gridSamples, consistencyCheckSteps, swdTicks,
            swdImages, schedule
    }

    /// Where configurations written before the split kept the run's length.
    private enum LegacyScheduleKeys: String, CodingKey { case totalKimg }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let total = try container.decodeIfPresent(Double.self, forKey: .totalKimg) {
            totalKimg = total
        } else {
            let legacy = try container.nestedContainer(keyedBy: LegacyScheduleKeys.self, forKey: .schedule)
            totalKimg = try legacy.decode(Double.self, forKey: .totalKimg)
        }
        tickKimg = try container.decode(Double.self, forKey: .tickKimg)
        checkpointTicks = try container.decode(Int.self, forKey: .checkpointTicks)
        checkpointMinutes = try container.decodeIfPresent(Double.self, forKey: .checkpointMinutes) ?? checkpointMinutes
        keepCheckpoints = try container.decode(Int.self, forKey: .keepCheckpoints)
        gridSamples = try container.decode(Int.self, forKey: .gridSamples)
        consistencyCheckSteps = try container.decode(Int.self, forKey: .consistencyCheckSteps)
        swdTicks = try container.decodeIfPresent(Int.self, forKey: .swdTicks) ?? swdTicks
        swdImages = try container.decodeIfPresent(Int.self, forKey: .swdImages) ?? swdImages
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(totalKimg, forKey: .totalKimg)
        try container.encode(tickKimg, forKey: .tickKimg)
        try container.encode(checkpointTicks, forKey: .checkpointTicks)
        try container.encode(checkpointMinutes, forKey: .checkpointMinutes)
        try container.encode(keepCheckpoints, forKey: .keepCheckpoints)
        try container.encode(gridSamples, forKey: .gridSamples)
        try container.encode(consistencyCheckSteps, forKey: .consistencyCheckSteps)
        try container.encode(swdTicks, forKey: .swdTicks)
        try container.encode(swdImages, forKey: .swdImages)
    }
}

extension TrainingConfig {
    public static func decode(_ data: Data) throws -> TrainingConfig {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(TrainingConfig.self, from: data)
    }

    /// config.json's bytes. Throws for a value JSON cannot hold (a non-finite number).
    public func encoded() throws -> Data { try Self.encodeJSON(self) }

    /// CRC32 of the recipe's JSON, as 8 hex digits: names the weights a run produces.
    public var hash: String {
        let bytes = (try? Self.encodeJSON(recipe)).map(Array.init) ?? []
        return String(format: "%08x", CRC32.checksum(bytes))
    }

    static func encodeJSON(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return try encoder.encode(value)
        } catch let EncodingError.invalidValue(value, context) {
            let key = context.codingPath.map { $0.stringValue.snakeCased }.joined(separator: ".")
            throw ConfigError(message: "\(key): \(value) cannot be written to a configuration file")
        }
    }

    /// Whether a checkpoint of a run with configuration `other` can continue under this one: the recipes
    /// must be equal; the run settings may change.
    public func canResume(from other: TrainingConfig) -> Bool { recipe == other.recipe }

    /// The recipe settings that differ from `other`'s, one "key: VALUE in the checkpoint, VALUE now" each.
    public func recipeDifferences(from other: TrainingConfig) -> [String] {
        guard let mine = try? Self.flattenedJSON(recipe), let theirs = try? Self.flattenedJSON(other.recipe) else {
            return []
        }
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            let old = theirs[key] ?? "absent", new = mine[key] ?? "absent"
            return old == new ? nil : "\(key): \(old) in the checkpoint, \(new) now"
        }
    }

    /// Every leaf of `value`'s JSON by its dotted snake_case key, as JSON text.
    static func flattenedJSON(_ value: some Encodable) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: encodeJSON(value))
        var leaves: [String: String] = [:]
        func visit(_ node: Any, _ path: String) {
            if let dictionary = node as? [String: Any], !dictionary.isEmpty {
                for (key, child) in dictionary { visit(child, path.isEmpty ? key : "\(path).\(key)") }
            } else {
                let data = try? JSONSerialization.data(withJSONObject: node, options: [.fragmentsAllowed, .sortedKeys])
                leaves[path] = data.map { String(decoding: $0, as: UTF8.self) } ?? "\(node)"
            }
        }
        visit(object, "")
        return leaves
    }
}

extension String {
    /// `halfLifeKimg` → `half_life_kimg`, as the JSON encoder spells keys.
    var snakeCased: String {
        reduce(into: "") { result, character in
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
    }
}

extension TrainingConfig {
    /// `self` with the settings of a JSON object laid over it. Keys are snake_case as in config.json;
    /// nested objects merge key by key, and a key this version does not know is an error rather than
    /// a silently ignored typo.
    public func overlaid(withJSON data: Data, source: String) throws -> TrainingConfig {
        let overlay: Any
        do {
            overlay = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError(message: "\(source): not valid JSON (\(error.localizedDescription))")
        }
        guard var overlayObject = overlay as? [String: Any],
            let base = try JSONSerialization.jsonObject(with: encoded()) as? [String: Any]
        else {
            throw ConfigError(message: "\(source): the top level must be a JSON object")
        }
        Self.moveLegacyKeys(&overlayObject)
        let merged = try Self.merge(overlayObject, into: base, path: "", source: source)
        do {
            return try Self.decode(JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigError(
                message: "\(source): '\(context.keyPath)' has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw ConfigError(
                message: "\(source): '\(context.keyPath)' has an invalid value (\(context.debugDescription))")
        } catch {
            throw ConfigError(message: "\(source): \(error)")
        }
    }

    /// Per-resolution tables: their keys are resolutions, not settings, so an overlay replaces them whole.
    private static let tableKeys: Set<String> = ["schedule.minibatch", "schedule.learning_rate"]

    /// Files written before the recipe/run split kept the run's length in the schedule.
    private static func moveLegacyKeys(_ object: inout [String: Any]) {
        guard var schedule = object["schedule"] as? [String: Any], let total = schedule["total_kimg"] else { return }
        schedule["total_kimg"] = nil
        object["schedule"] = schedule
        if object["total_kimg"] == nil { object["total_kimg"] = total }
    }

    private static func merge(
        _ overlay: [String: Any], into base: [String: Any], path: String, source: String
    ) throws
        -> [String: Any]
    {
        var result = base
        for (key, value) in overlay {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if tableKeys.contains(keyPath) {
                result[key] = value
            } else if let nested = value as? [String: Any], let baseNested = base[key] as? [String: Any] {
                result[key] = try merge(nested, into: baseNested, path: keyPath, source: source)
            } else if base[key] != nil {
                result[key] = value
            } else {
                throw ConfigError(message: "\(source): unknown setting '\(keyPath)'")
            }
        }
        return result
    }
}

extension DecodingError.Context {
    /// The setting at fault as config.json spells it: `ema.half_life_kimg`.
    var keyPath: String { codingPath.map { $0.stringValue.snakeCased }.joined(separator: ".") }
}
