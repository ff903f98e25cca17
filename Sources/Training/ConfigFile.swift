import Foundation
import Model
import SafeIO

// config.json: one flat object holding both parts of the configuration. Optional settings are written
// as null rather than left out (`WrittenAsNull`), so a run's config.json names every setting and reads
// back as the same configuration whatever preset it is laid over.

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

    static func encodeJSON(
        _ value: some Encodable, formatting: JSONEncoder.OutputFormatting = [.prettyPrinted, .sortedKeys]
    ) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = formatting
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
            if let (key, number) = Self.firstUnrepresentableNumber(in: data) {
                throw ConfigError(message: "\(source): '\(key)': the number \(number) is beyond any setting's range")
            }
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
        } catch let DecodingError.dataCorrupted(context) {
            // Foundation blames the whole document for a number its type cannot hold (a seed of 1e30 or
            // -1): find the setting by laying the file's settings over the base one at a time.
            guard let (key, value) = try Self.firstUndecodable(overlayObject, base: base, source: source) else {
                throw ConfigError(message: "\(source): \(context.debugDescription)")
            }
            throw ConfigError(message: "\(source): '\(key)' has a value its setting cannot hold (\(value))")
        } catch {
            throw ConfigError(message: "\(source): \(error)")
        }
    }

    /// The first `"key": number` whose number no Double holds (1e400): Foundation's parser rejects the whole
    /// document for it, without saying where.
    private static func firstUnrepresentableNumber(in data: Data) -> (key: String, number: String)? {
        let text = String(decoding: data, as: UTF8.self)
        let pattern = #""((?:[^"\\]|\\.)*)"\s*:\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"#
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        for match in expression.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let key = Range(match.range(at: 1), in: text), let number = Range(match.range(at: 2), in: text)
            else { continue }
            if let value = Double(text[number]), !value.isFinite { return (String(text[key]), String(text[number])) }
        }
        return nil
    }

    /// The first of the overlay's settings, by dotted key, that does not decode when laid alone over `base`.
    private static func firstUndecodable(
        _ overlay: [String: Any], base: [String: Any], source: String, path: [String] = []
    ) throws -> (key: String, value: Any)? {
        for (key, value) in overlay.sorted(by: { $0.key < $1.key }) {
            let keyPath = path + [key]
            if let nested = value as? [String: Any], !tableKeys.contains(keyPath.joined(separator: ".")) {
                if let found = try firstUndecodable(nested, base: base, source: source, path: keyPath) { return found }
                continue
            }
            let single = keyPath.dropLast().reversed().reduce([key: value] as [String: Any]) { [$1: $0] }
            let merged = try merge(single, into: base, path: "", source: source)
            if (try? decode(JSONSerialization.data(withJSONObject: merged))) == nil {
                return (keyPath.joined(separator: "."), value)
            }
        }
        return nil
    }

    /// Per-resolution tables: their keys are resolutions, not settings, so an overlay replaces them whole;
    /// so too `network.conditioning`, which an unconditional configuration leaves out altogether.
    private static let tableKeys: Set<String> = [
        "schedule.minibatch", "schedule.learning_rate", "network.conditioning",
    ]

    /// A JSON document holding a configuration under `key` (a checkpoint's state), with the keys of older
    /// versions moved to where this version reads them; a document that is not such an object comes back
    /// unchanged, for the decoder to report.
    static func upgradingLegacyKeys(_ data: Data, under key: String) -> Data {
        guard var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            var config = object[key] as? [String: Any]
        else { return data }
        let moved = moveLegacyKeys(&config)
        guard fillAbsentRunSettings(&config) || moved else { return data }
        object[key] = config
        return (try? JSONSerialization.data(withJSONObject: object)) ?? data
    }

    /// Files written before the recipe/run split kept the run's length in the schedule.
    @discardableResult
    private static func moveLegacyKeys(_ object: inout [String: Any]) -> Bool {
        guard var schedule = object["schedule"] as? [String: Any], let total = schedule["total_kimg"] else {
            return false
        }
        schedule["total_kimg"] = nil
        object["schedule"] = schedule
        if object["total_kimg"] == nil { object["total_kimg"] = total }
        return true
    }

    /// Run settings added after a file was written take their defaults (they change no weight), so a
    /// checkpoint of an older version still resumes.
    private static func fillAbsentRunSettings(_ object: inout [String: Any]) -> Bool {
        guard let data = try? encodeJSON(RunSettings()),
            let defaults = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return false }
        let absent = defaults.filter { object[$0.key] == nil }
        object.merge(absent) { old, _ in old }
        return !absent.isEmpty
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
