import Foundation
import SafeIO
import Training

/// One line of metrics.jsonl: its numbers (losses, alpha, resolution, SWD, ...) and its strings
/// (phase, grid).
public struct TickRecord {
    public let numbers: [String: Double]
    public let strings: [String: String]

    public var kimg: Double { numbers["kimg"]! }
    public var resolution: Int { Int(numbers["resolution"]!) }
    public var isFadeIn: Bool { strings["phase"] == "fade-in" }
}

/// A finished or running run directory, read for reports and time-lapses.
public struct RunRecords {
    public let directory: RunDirectory
    public let ticks: [TickRecord]
    /// config.json as written by the run.
    public let configJSON: String

    /// Reads `path`; every problem is a `FileError` naming the file (and line) at fault.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(path: path, problem: "no such directory")
        }
        directory = RunDirectory(path)
        guard let config = FileManager.default.contents(atPath: directory.configPath),
              let metrics = FileManager.default.contents(atPath: directory.metricsPath) else {
            throw FileError(path: path, problem: "not a run directory (it needs config.json and metrics.jsonl)")
        }
        configJSON = String(decoding: config, as: UTF8.self)
        var ticks: [TickRecord] = []
        for (index, line) in String(decoding: metrics, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            ticks.append(try Self.parse(line, source: "\(directory.metricsPath):\(index + 1)"))
        }
        guard !ticks.isEmpty else { throw FileError(path: directory.metricsPath, problem: "no ticks recorded yet") }
        self.ticks = ticks
    }

    /// `source` names the line in errors: `RUN/metrics.jsonl:N`.
    private static func parse(_ line: Substring, source: String) throws -> TickRecord {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw FileError(path: source, problem: "not a JSON object")
        }
        var numbers: [String: Double] = [:], strings: [String: String] = [:]
        for (key, value) in object {
            if let text = value as? String { strings[key] = text } else if let number = value as? Double { numbers[key] = number }
        }
        for key in ["kimg", "resolution", "alpha"] where numbers[key] == nil {
            throw FileError(path: source, problem: "no number '\(key)'")
        }
        for key in ["phase", "grid"] where strings[key] == nil {
            throw FileError(path: source, problem: "no string '\(key)'")
        }
        return TickRecord(numbers: numbers, strings: strings)
    }

    /// The tick grids in tick order, as the paths metrics.jsonl names.
    public func gridPaths() -> [String] { ticks.map { gridPath($0) } }

    public func gridPath(_ tick: TickRecord) -> String { directory.path + "/" + tick.strings["grid"]! }
}
