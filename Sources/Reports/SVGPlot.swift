import Foundation

/// A line chart as inline SVG, with kimg on the x axis.
struct LinePlot {
    struct Series {
        let name: String
        let points: [(x: Double, y: Double)]
        /// Dashed, for a summary of other series (a mean) that may lie right on top of one of them.
        var dashed = false
    }

    let title: String
    let series: [Series]
    /// Vertical dashed lines with a label, e.g. where a resolution is added.
    var markers: [(x: Double, label: String)] = []
    /// Shaded x ranges, e.g. fade-ins.
    var bands: [ClosedRange<Double>] = []
    var xRange: ClosedRange<Double>
    var yRange: ClosedRange<Double>? = nil
    var width = 760.0
    var height = 240.0

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    private let margin = (left: 64.0, right: 16.0, top: 28.0, bottom: 34.0)

    var svg: String {
        let values = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        let yRange = self.yRange ?? Self.padded((values.min() ?? 0)...(values.max() ?? 1))
        let plotWidth = width - margin.left - margin.right, plotHeight = height - margin.top - margin.bottom
        func x(_ value: Double) -> Double {
            margin.left + (value - xRange.lowerBound) / max(xRange.upperBound - xRange.lowerBound, 1e-12) * plotWidth
        }
        func y(_ value: Double) -> Double {
            margin.top + (yRange.upperBound - value) / max(yRange.upperBound - yRange.lowerBound, 1e-12) * plotHeight
        }
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" "
            + "width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\">"
        out += "<text x=\"\(fmt(margin.left))\" y=\"18\" class=\"title\">\(escapeHTML(title))</text>"
        for band in bands {
            out +=
                "<rect x=\"\(fmt(x(band.lowerBound)))\" y=\"\(fmt(margin.top))\" "
                + "width=\"\(fmt(x(band.upperBound) - x(band.lowerBound)))\" "
                + "height=\"\(fmt(plotHeight))\" fill=\"#f3ecd9\"/>"
        }
        for tick in Self.ticks(yRange) {
            out +=
                "<line x1=\"\(fmt(margin.left))\" x2=\"\(fmt(width - margin.right))\" "
                + "y1=\"\(fmt(y(tick)))\" y2=\"\(fmt(y(tick)))\" stroke=\"#e4e4e4\"/>"
            out +=
                "<text x=\"\(fmt(margin.left - 6))\" y=\"\(fmt(y(tick) + 4))\" text-anchor=\"end\">"
                + "\(Self.label(tick))</text>"
        }
        for tick in Self.ticks(xRange) {
            out +=
                "<text x=\"\(fmt(x(tick)))\" y=\"\(fmt(height - margin.bottom + 16))\" text-anchor=\"middle\">"
                + "\(Self.label(tick))</text>"
        }
        out += "<text x=\"\(fmt(width - margin.right))\" y=\"\(fmt(height - 2))\" text-anchor=\"end\">kimg</text>"
        for marker in markers {
            out +=
                "<line x1=\"\(fmt(x(marker.x)))\" x2=\"\(fmt(x(marker.x)))\" "
                + "y1=\"\(fmt(margin.top))\" y2=\"\(fmt(height - margin.bottom))\" "
                + "stroke=\"#888\" stroke-dasharray=\"4 3\"/>"
            out +=
                "<text x=\"\(fmt(x(marker.x) + 3))\" y=\"\(fmt(margin.top + 10))\" class=\"marker\">"
                + "\(escapeHTML(marker.label))</text>"
        }
        out +=
            "<rect x=\"\(fmt(margin.left))\" y=\"\(fmt(margin.top))\" width=\"\(fmt(plotWidth))\" "
            + "height=\"\(fmt(plotHeight))\" fill=\"none\" stroke=\"#999\"/>"
        for (index, line) in series.enumerated() {
            let color = Self.colors[index % Self.colors.count]
            // A non-finite value breaks the line instead of dragging it off the chart.
            let runs = line.points.split { !$0.y.isFinite }
            for run in runs {
                let points = run.map {
                    "\(fmt(x($0.x))),\(fmt(y(min(max($0.y, yRange.lowerBound), yRange.upperBound))))"
                }
                let dash = line.dashed ? " stroke-dasharray=\"5 3\"" : ""
                out +=
                    run.count == 1
                    ? "<circle cx=\"\(fmt(x(run.first!.x)))\" cy=\"\(fmt(y(run.first!.y)))\" "
                        + "r=\"2.5\" fill=\"\(color)\"/>"
                    : "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\"\(dash) "
                        + "points=\"\(points.joined(separator: " "))\"/>"
            }
            let legendX = margin.left + 8 + Double(index) * 130
            out += "<rect x=\"\(fmt(legendX))\" y=\"\(fmt(height - 12))\" width=\"10\" height=\"3\" fill=\"\(color)\"/>"
            out += "<text x=\"\(fmt(legendX + 14))\" y=\"\(fmt(height - 8))\">\(escapeHTML(line.name))</text>"
        }
        return out + "</svg>"
    }

    /// The range with 5% room above and below, or ±1 around a constant.
    static func padded(_ range: ClosedRange<Double>) -> ClosedRange<Double> {
        let span = range.upperBound - range.lowerBound
        return span > 0
            ? (range.lowerBound - span * 0.05)...(range.upperBound + span * 0.05)
            : (range.lowerBound - 1)...(range.upperBound + 1)
    }

    /// Round values (1, 2 or 5 times a power of ten apart) inside `range`, four to seven of them.
    static func ticks(_ range: ClosedRange<Double>) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let rough = span / 6, power = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
        return stride(from: ceil(range.lowerBound / step) * step, through: range.upperBound + step * 1e-9, by: step).map
        { $0 }
    }

    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude == 0 { return "0" }
        if magnitude >= 1e4 || magnitude < 1e-3 { return String(format: "%.1e", value) }
        return String(format: "%g", (value * 1e6).rounded() / 1e6)
    }
}

func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

func escapeHTML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
