import Foundation
import ImageIO
import SafeIO
import Training

/// One self-contained HTML page about a run: curves as inline SVG, grids as inline PNG (base64), no
/// scripts or external files, so it can be mailed, archived or opened offline.
public struct RunReport {
    let run: RunRecords

    public init(run: RunRecords) { self.run = run }

    /// A contiguous stretch of ticks at one resolution and phase. A tick records the schedule at its end,
    /// so a phase begins at the first tick that shows it and lasts until the next phase's first tick.
    struct Segment {
        let resolution: Int
        let fadeIn: Bool
        var kimg: ClosedRange<Double>
    }

    var segments: [Segment] {
        var segments: [Segment] = []
        for tick in run.ticks {
            if let current = segments.last, current.resolution == tick.resolution,
                current.fadeIn == (tick.phase == .fadeIn)
            {
                segments[segments.count - 1].kimg = current.kimg.lowerBound...tick.kimg
            } else {
                if let current = segments.last {
                    segments[segments.count - 1].kimg = current.kimg.lowerBound...tick.kimg
                }
                segments.append(
                    Segment(
                        resolution: tick.resolution, fadeIn: (tick.phase == .fadeIn),
                        kimg: (segments.isEmpty ? 0 : tick.kimg)...tick.kimg))
            }
        }
        return segments
    }

    public func html() throws -> String {
        let ticks = run.ticks, segments = self.segments
        let xRange = 0...max(ticks.last!.kimg, 1e-3)
        let markers = zip(segments, segments.dropFirst()).compactMap { previous, next in
            next.resolution == previous.resolution
                ? nil : (x: next.kimg.lowerBound, label: "\(next.resolution)x\(next.resolution)")
        }
        let bands = segments.filter(\.fadeIn).map(\.kimg)
        func plot(_ title: String, _ keys: [String], _ value: @escaping (TickRecord, String) -> Double?) -> LinePlot {
            let series = keys.map { key in
                LinePlot.Series(
                    name: key, points: ticks.compactMap { tick in value(tick, key).map { (tick.kimg, $0) } },
                    dashed: key.hasSuffix("_mean"))
            }
            return LinePlot(title: title, series: series, markers: markers, bands: bands, xRange: xRange)
        }
        let lossKeys = Set(ticks.flatMap(\.losses.keys)), qualityKeys = Set(ticks.flatMap(\.quality.keys))
        let loss: (TickRecord, String) -> Double? = { $0.losses[$1] ?? nil }
        let quality: (TickRecord, String) -> Double? = { $0.quality[$1] }
        let swdKeys = qualityKeys.filter { $0.hasPrefix("swd") }.sorted { swdOrder($0) < swdOrder($1) }
        let diversityKeys = ["ms_ssim"].filter(qualityKeys.contains)
        let otherTerms = lossKeys.subtracting(["d_loss", "g_loss"]).sorted()
        let finished = ticks.last!.kimg >= (configObject()["total_kimg"] as? Double ?? .infinity)

        var body = "<h1>progan run <code>\(escapeHTML(run.directory.path))</code></h1>"
        body += "<p class=\"lead\">\(summaryLine())</p>"
        // One plot per loss term besides D's and G's: a penalty, a drift and a distance estimate differ by orders
        // of magnitude, and one scale would flatten the small ones.
        body += section(
            "Losses",
            plot("D and G loss", ["d_loss", "g_loss"].filter(lossKeys.contains), loss).svg
                + otherTerms.map { plot(Self.lossTitles[$0] ?? $0, [$0], loss).svg }.joined())
        body += section(
            "Sliced Wasserstein distance",
            (swdKeys.isEmpty
                ? "<p class=\"none\">no SWD computed</p>"
                : plot("SWD x 10³ per Laplacian pyramid level", swdKeys, quality).svg)
                + (diversityKeys.isEmpty
                    ? ""
                    : plot(
                        "MS-SSIM of generated pairs (higher: less varied)", diversityKeys,
                        quality
                    ).svg))
        let inceptionKeys = ["fid", "kid"].filter(qualityKeys.contains)
        if !inceptionKeys.isEmpty {
            body += section(
                "FID and KID",
                inceptionKeys.map { plot($0.uppercased() + " against the reals", [$0], quality).svg }.joined())
        }
        var alpha = plot("Fade-in α (shaded: fade-in phases)", ["alpha"]) { tick, _ in tick.alpha }
        alpha.yRange = -0.05...1.05
        alpha.height = 170
        body += section("Growth timeline", phaseStrip(segments, xRange: xRange) + alpha.svg)
        body += section(
            "Speed and memory",
            speedTable() + plot("Images per second", ["images_per_second"]) { tick, _ in tick.imagesPerSecond }.svg
                + plot("Peak resident memory of rank 0, MiB", ["peak_rss_mib"]) { tick, _ in tick.peakResidentMiB }.svg
                + estimateTable(finished: finished))
        var atEnds = ""
        for (tick, next) in zip(ticks, ticks.dropFirst().map(Optional.some) + [nil])
        where next?.resolution != tick.resolution {
            let phase = (tick.phase == .fadeIn) ? "fading in" : "stable"
            let caption =
                "\(tick.resolution)x\(tick.resolution), \(phase), \(String(format: "%.2f", tick.kimg)) kimg"
            atEnds += try figure(run.gridPath(tick), caption: caption, displayWidth: 360)
        }
        body += section("Samples at the end of each resolution", "<div class=\"grids\">\(atEnds)</div>")
        body += section(
            "Final samples",
            try figure(
                run.gridPath(ticks.last!),
                caption: "tick \(ticks.last!.tick), "
                    + "\(String(format: "%.2f", ticks.last!.kimg)) kimg" + classRowsCaption(), displayWidth: 1024))
        let reals = run.directory.samplesPath + "/reals.png"
        if FileManager.default.fileExists(atPath: reals) {
            body += section(
                "Training images", try figure(reals, caption: "reals.png" + classRowsCaption(), displayWidth: 512))
        }
        body += section("Configuration", "<pre>\(escapeHTML(run.configJSON))</pre>")
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>progan report: \(escapeHTML(run.directory.path))</title>
            <style>
            body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1080px; color: #222; \
            padding: 0 16px; }
            h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }
            svg.plot { display: block; margin: 8px 0; } svg text { font: 11px sans-serif; fill: #444; }
            svg text.title { font-size: 13px; fill: #222; } svg text.marker { fill: #666; }
            img.grid { image-rendering: pixelated; border: 1px solid #ccc; }
            .grids { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0; } figcaption { color: #555; }
            table { border-collapse: collapse; } td, th { padding: 2px 12px 2px 0; text-align: right; }
            pre { background: #f6f6f6; padding: 8px; font-size: 12px; columns: 3; }
            .none { color: #a33; font-style: italic; }
            </style></head><body>
            \(body)
            </body></html>

            """
    }

    private func summaryLine() -> String {
        let last = run.ticks.last!, config = configObject()
        let total = config["total_kimg"] as? Double
        let loss = ((config["loss"] as? [String: Any])?["kind"] as? String) ?? "?"
        let seconds = run.ticks.map(\.tickSeconds).reduce(0, +)
        return "\(run.ticks.count) ticks, step \(last.step), \(String(format: "%.2f", last.kimg))"
            + (total.map { " of \(String(format: "%.2f", $0))" } ?? "")
            + " kimg; reached \(last.resolution)x\(last.resolution); "
            + "loss \(escapeHTML(loss)); \(formatSeconds(seconds)) of training"
    }

    /// What each loss term measures, as its plot's title.
    static let lossTitles = [
        "wasserstein": "Wasserstein term: D(fake) - D(real)",
        "gp": "Gradient penalty, weighted by λ, at images between real and fake",
        "r1": "R1 penalty: γ/2 |∇D|² at real images",
        "drift": "Drift: ε D(real)²",
        "d_class": "D's class term: cross-entropy of its class logits on reals and fakes",
        "g_class": "G's class term: cross-entropy of D's class logits on fakes",
    ]

    /// The ETA check of a finished run (`EstimateCheck`).
    private func estimateTable(finished: Bool) -> String {
        let check = EstimateCheck(ticks: run.ticks)
        guard finished, !check.rows.isEmpty else { return "" }
        let header = EstimateCheck.header.map { "<th>\($0)</th>" }.joined()
        let rows = check.cells.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined()
        return "<p>The ETA of the progress line at the first tick of each resolution, against the time the run "
            + "then took:</p><table><tr>\(header)</tr>\(rows)</table>"
    }

    /// In a conditional run, the class each grid row shows; empty otherwise.
    private func classRowsCaption() -> String {
        let config = configObject()
        guard let network = config["network"] as? [String: Any],
            let names = (network["conditioning"] as? [String: Any])?["class_names"] as? [String], !names.isEmpty,
            let samples = config["grid_samples"] as? Int, samples > 0
        else { return "" }
        let rows = SampleGridLayout.rowClasses(classes: names.count, samples: samples)
        return "; one row per class: " + rows.map { names[$0] }.joined(separator: ", ")
    }

    private func configObject() -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(run.configJSON.utf8)) as? [String: Any]) ?? [:]
    }

    /// Images per second by resolution, weighted by time: images shown over seconds spent.
    private func speedTable() -> String {
        var rows = "", start = 0.0, imagesByResolution: [Int: Double] = [:], secondsByResolution: [Int: Double] = [:],
            order: [Int] = []
        for tick in run.ticks {
            if imagesByResolution[tick.resolution] == nil { order.append(tick.resolution) }
            imagesByResolution[tick.resolution, default: 0] += (tick.kimg - start) * 1000
            secondsByResolution[tick.resolution, default: 0] += tick.tickSeconds
            start = tick.kimg
        }
        for resolution in order {
            let seconds = secondsByResolution[resolution]!, images = imagesByResolution[resolution]!
            rows +=
                "<tr><td>\(resolution)x\(resolution)</td><td>\(String(format: "%.0f", images))</td>"
                + "<td>\(formatSeconds(seconds))</td>"
                + "<td>\(seconds > 0 ? String(format: "%.1f", images / seconds) : "?")</td></tr>"
        }
        return "<table><tr><th>resolution</th><th>images</th><th>time</th><th>images/s</th></tr>\(rows)</table>"
    }

    /// Coloured bars for the phases along the kimg axis, labelled with the resolution.
    private func phaseStrip(_ segments: [Segment], xRange: ClosedRange<Double>) -> String {
        let width = 760.0, left = 64.0, right = 16.0, plotWidth = width - left - right
        func x(_ kimg: Double) -> Double { left + kimg / xRange.upperBound * plotWidth }
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot timeline\" "
            + "width=\"\(fmt(width))\" height=\"52\" viewBox=\"0 0 \(fmt(width)) 52\">"
        out += "<text x=\"\(fmt(left))\" y=\"14\" class=\"title\">Phases (blue: stable, amber: fade-in)</text>"
        for segment in segments {
            let from = x(segment.kimg.lowerBound), to = x(segment.kimg.upperBound)
            let fill = segment.fadeIn ? "#f0b44c" : "#6a9fd4"
            out +=
                "<rect x=\"\(fmt(from))\" y=\"22\" width=\"\(fmt(max(to - from, 1)))\" height=\"22\" "
                + "fill=\"\(fill)\" stroke=\"#fff\"/>"
            if to - from > 34 {
                out +=
                    "<text x=\"\(fmt((from + to) / 2))\" y=\"37\" text-anchor=\"middle\">"
                    + "\(segment.resolution)x\(segment.resolution)</text>"
            }
        }
        return out + "</svg>"
    }

    /// A grid PNG embedded as is, displayed at an integer multiple of its size up to `displayWidth`
    /// (pixelated, so that early 4x4 samples stay sharp).
    private func figure(_ path: String, caption: String, displayWidth: Int) throws -> String {
        let image = try RGBImage.read(path: path)
        guard let png = FileManager.default.contents(atPath: path) else {
            throw FileError(path: path, problem: "cannot read")
        }
        let scale = max(1, displayWidth / image.width)
        return
            "<figure><img class=\"grid\" width=\"\(image.width * scale)\" height=\"\(image.height * scale)\" "
            + "alt=\"\(escapeHTML(caption))\" src=\"data:image/png;base64,\(png.base64EncodedString())\">"
            + "<figcaption>\(escapeHTML(caption))</figcaption></figure>"
    }

    private func section(_ title: String, _ content: String) -> String { "<h2>\(escapeHTML(title))</h2>\n\(content)\n" }
}

/// SWD keys by pyramid level (swd_16 before swd_128), the mean last.
private func swdOrder(_ key: String) -> Int { Int(key.dropFirst("swd_".count)) ?? Int.max }

private func formatSeconds(_ seconds: Double) -> String {
    guard let total = wholeSeconds(seconds) else { return "? s" }
    return total >= 3600
        ? "\(total / 3600) h \(total / 60 % 60) min" : total >= 60 ? "\(total / 60) min \(total % 60) s" : "\(total) s"
}
