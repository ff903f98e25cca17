import Foundation
import Model
import SafeIO
import Training

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
            let metrics = FileManager.default.contents(atPath: directory.metricsPath)
        else {
            throw FileError(path: path, problem: "not a run directory (it needs config.json and metrics.jsonl)")
        }
        configJSON = String(decoding: config, as: UTF8.self)
        var ticks: [TickRecord] = []
        for (index, line) in String(decoding: metrics, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        ).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            ticks.append(try Self.parse(line, source: "\(directory.metricsPath):\(index + 1)"))
        }
        guard !ticks.isEmpty else { throw FileError(path: directory.metricsPath, problem: "no ticks recorded yet") }
        self.ticks = ticks
    }

    /// `source` names the line in errors: `RUN/metrics.jsonl:N`.
    private static func parse(_ line: Substring, source: String) throws -> TickRecord {
        do {
            return try TickRecord.parse(line)
        } catch let DecodingError.keyNotFound(key, _) {
            throw FileError(path: source, problem: "no '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw FileError(path: source, problem: "'\(key)' has the wrong type")
        } catch let error as ConfigError {
            throw FileError(path: source, problem: error.message)
        } catch {
            throw FileError(path: source, problem: "not a JSON object")
        }
    }

    /// The tick grids in tick order, as the paths metrics.jsonl names.
    public func gridPaths() -> [String] { ticks.map { gridPath($0) } }

    public func gridPath(_ tick: TickRecord) -> String { directory.path + "/" + tick.grid }
}
