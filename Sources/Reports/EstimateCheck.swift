import Foundation
import Training

/// How honest a finished run's ETA was: at the first tick trained wholly at each resolution, the time left
/// the run estimated then (`eta_seconds`) against the time it then took (the `wall_seconds` of the later
/// ticks). Needs both fields on every tick from there on (lines written before they existed have neither).
public struct EstimateCheck {
    public struct Row: Equatable {
        public let resolution: Int
        public let tick: Int
        public let kimg: Double
        public let predictedSeconds: Double
        public let actualSeconds: Double

        /// The estimate's error as a fraction of the actual time (+0.1: 10% too long).
        public var error: Double { predictedSeconds / actualSeconds - 1 }
    }

    public let rows: [Row]

    /// `ticks` of a finished run, in order.
    public init(ticks: [TickRecord]) {
        var rows: [Row] = []
        for (index, tick) in ticks.enumerated() {
            // The tick before ended at this resolution too, so this tick trained at nothing else.
            let whole = index == 0 ? tick.tick == 1 : ticks[index - 1].resolution == tick.resolution
            guard whole, !rows.contains(where: { $0.resolution == tick.resolution }) else { continue }
            let later = ticks[(index + 1)...].map(\.wallSeconds)
            guard let predicted = tick.etaSeconds, later.allSatisfy({ $0 != nil }) else { continue }
            let actual = later.compactMap { $0 }.reduce(0, +)
            guard actual > 0 else { continue }
            rows.append(
                Row(
                    resolution: tick.resolution, tick: tick.tick, kimg: tick.kimg, predictedSeconds: predicted,
                    actualSeconds: actual))
        }
        self.rows = rows
    }

    static let header = ["resolution", "tick", "kimg", "ETA", "took", "error"]

    /// The rows as table cells, in the order of `header`.
    var cells: [[String]] {
        rows.map { row in
            [
                "\(row.resolution)x\(row.resolution)", "\(row.tick)", String(format: "%.2f", row.kimg),
                formatDuration(row.predictedSeconds), formatDuration(row.actualSeconds),
                String(format: "%+.0f%%", row.error * 100),
            ]
        }
    }

    /// A plain-text table, one line per resolution, for a terminal or a note.
    public var lines: [String] {
        let table = [Self.header] + cells
        let widths = Self.header.indices.map { column in table.map { $0[column].count }.max()! }
        return table.map { row in
            row.indices.map { column in
                let pad = String(repeating: " ", count: widths[column] - row[column].count)
                return column == 0 ? row[column] + pad : pad + row[column]
            }.joined(separator: "  ")
        }
    }
}
