import Foundation
import ShadowStats

/// Latency charts as self-contained inline SVG: no scripts, no external references, no classes;
/// every text from the distribution or the caller is escaped. The x axis is latency in ms on a
/// log scale; each series is one `<path>`; p50 and p99 are dotted vertical lines, labelled above
/// the plot, with their values in the legend (a level is left out when the series has too few
/// samples for it, as in the latency summary).
public enum LatencyCharts {
    /// Overlaid CDFs (y: share of requests 0–100%, x: latency in ms, log scale). A series with
    /// fewer than 1,000 samples is drawn as steps (its empirical CDF); a larger one as straight
    /// segments between its stored quantiles.
    public static func cdf(_ d: LatencyDistribution, title: String) -> String {
        guard let chart = Chart(d, title: title, yTitle: "share of requests at or below") else {
            return empty(title: title)
        }
        var svg = chart.open()
        let ticks = (0...10).map { Double($0) / 10 }
        chart.yGrid(&svg, ticks: ticks, labelled: { Int(($0 * 10).rounded()) % 2 == 0 }, top: 1) { number($0 * 100) + "%" }
        chart.xGrid(&svg)
        chart.markers(&svg)
        for (index, series) in d.series.enumerated() where !series.cdf.isEmpty {
            let y = { chart.y($0, top: 1) }
            let steps = series.count < stepsBelow
            var path = "M" + number(chart.x(series.cdf[0].valueNs)) + " " + number(y(0)) + "V" + number(y(series.cdf[0].fraction))
            for point in series.cdf.dropFirst() {
                let x = number(chart.x(point.valueNs))
                path += steps ? "H" + x + "V" + number(y(point.fraction)) : "L" + x + " " + number(y(point.fraction))
            }
            path += "H" + number(chart.plotRight)
            svg += chart.path(path, index: index, fill: false)
        }
        chart.close(&svg)
        return svg
    }

    /// Overlaid histograms (y: share of requests per bin, x: latency in ms, log scale), as step
    /// outlines so both stay visible; only the baseline is lightly filled.
    public static func histogram(_ d: LatencyDistribution, title: String) -> String {
        guard let chart = Chart(d, title: title, yTitle: "share of requests per bin") else {
            return empty(title: title)
        }
        let edges = d.binEdgesNs
        let shares = d.series.map { series in
            series.histogram.map { series.count > 0 ? Double($0) / Double(series.count) : 0 }
        }
        let step = niceStep(shares.joined().max() ?? 0, intervals: 5)
        let top = max(step, ((shares.joined().max() ?? 0) / step).rounded(.up) * step)
        var svg = chart.open()
        let ticks = (0...Int((top / step).rounded())).map { Double($0) * step }
        chart.yGrid(&svg, ticks: ticks, labelled: { _ in true }, top: top) { number($0 * 100) + "%" }
        chart.xGrid(&svg)
        chart.markers(&svg)
        for (index, series) in d.series.enumerated() where series.count > 0 {
            let y = { chart.y($0, top: top) }
            let base = number(y(0))
            var path = "M" + number(chart.x(edges[0])) + " " + base
            var previous = -1.0
            for (share, edge) in zip(shares[index], edges.dropFirst()) {
                if share != previous { path += "V" + number(y(share)) }
                path += "H" + number(chart.x(edge))
                previous = share
            }
            path += "V" + base + "Z"
            svg += chart.path(path, index: index, fill: series.name == "baseline")
        }
        chart.close(&svg)
        return svg
    }

    // MARK: - Layout

    static let width = 800.0
    static let stepsBelow = 1_000
    static let fontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

    /// Series colors by name; other names take the fallbacks in order.
    static func style(_ name: String, index: Int) -> (color: String, dash: String?) {
        switch name {
        case "baseline": return ("#1f77b4", nil)
        case "candidate": return ("#d62728", nil)
        case "secondary": return ("#7f7f7f", "6 4")
        default:
            let fallback = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
            return (fallback[index % fallback.count], nil)
        }
    }

    private struct Marker {
        var level: Percentile
        var valueNs: Int64?
        var reason: String?
    }

    private struct Chart {
        let d: LatencyDistribution
        let title: String
        let yTitle: String
        let markerRows: [Int]
        let plotLeft = 60.0
        let plotRight = LatencyCharts.width - 24
        let plotTop: Double
        let plotBottom: Double
        let height: Double
        let logLow: Double
        let logHigh: Double
        let ticks: [(ns: Double, labelled: Bool)]

        init?(_ d: LatencyDistribution, title: String, yTitle: String) {
            guard d.binEdgesNs.count >= 2, d.series.contains(where: { $0.count > 0 }) else { return nil }
            self.d = d
            self.title = title
            self.yTitle = yTitle
            markerRows = d.series.indices.filter { index in LatencyCharts.levels(of: d.series[index]).contains { $0.valueNs != nil } }
            plotTop = 34 + Double(markerRows.count) * 13 + 6
            plotBottom = plotTop + 230
            height = plotBottom + 58 + Double(d.series.count - 1) * 17 + 12
            let (low, high) = LatencyCharts.domain(low: Double(d.binEdgesNs[0]), high: Double(d.binEdgesNs[d.binEdgesNs.count - 1]))
            logLow = log10(low)
            logHigh = log10(high)
            ticks = LatencyCharts.ticks(low: low, high: high, pixelsPerDecade: (plotRight - plotLeft) / (log10(high) - log10(low)))
        }

        func x(_ ns: Double) -> Double {
            let clamped = min(max(ns, pow10(logLow)), pow10(logHigh))
            return plotLeft + (log10(clamped) - logLow) / (logHigh - logLow) * (plotRight - plotLeft)
        }

        func x(_ ns: Int64) -> Double { x(Double(ns)) }

        func y(_ value: Double, top: Double) -> Double {
            plotBottom - value / top * (plotBottom - plotTop)
        }

        func open() -> String {
            let h = number(height)
            var svg = #"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \#(number(LatencyCharts.width)) \#(h)" width="100%" "#
                + ##"role="img" style="max-width:960px;height:auto" font-family="\##(LatencyCharts.fontFamily)" font-size="11" fill="#333">"##
            svg += "<title>" + text(title, limit: 200) + "</title>"
            svg += "<desc>" + d.series.map { text(summary($0), limit: 300) }.joined(separator: "; ") + "</desc>"
            svg += ##"<rect width="100%" height="100%" fill="#fff"/>"##
            svg += ##"<text x="12" y="21" font-size="14" font-weight="600" fill="#222">"## + text(title, limit: 90) + "</text>"
            return svg
        }

        func close(_ svg: inout String) {
            svg += line(plotLeft, plotBottom, plotRight, plotBottom, stroke: "#888")
            svg += line(plotLeft, plotTop, plotLeft, plotBottom, stroke: "#888")
            let middle = (plotTop + plotBottom) / 2
            svg += #"<text x="16" y="\#(number(middle))" text-anchor="middle" transform="rotate(-90 16 \#(number(middle)))">"#
                + text(yTitle, limit: 60) + "</text>"
            svg += #"<text x="\#(number((plotLeft + plotRight) / 2))" y="\#(number(plotBottom + 34))" text-anchor="middle">"#
                + text("latency (ms, log scale)", limit: 60) + "</text>"
            legend(&svg)
            svg += "</svg>"
        }

        func yGrid(_ svg: inout String, ticks: [Double], labelled: (Double) -> Bool, top: Double, label: (Double) -> String) {
            for tick in ticks {
                let py = y(tick, top: top)
                let major = labelled(tick)
                if tick > 0 { svg += line(plotLeft, py, plotRight, py, stroke: major ? "#e2e2e2" : "#f1f1f1") }
                if major {
                    svg += #"<text x="\#(number(plotLeft - 6))" y="\#(number(py + 3.5))" text-anchor="end">"# + text(label(tick), limit: 20) + "</text>"
                }
            }
        }

        func xGrid(_ svg: inout String) {
            for tick in ticks {
                let px = x(tick.ns)
                if px > plotLeft + 0.5 {
                    svg += line(px, plotTop, px, plotBottom, stroke: tick.labelled ? "#e2e2e2" : "#f1f1f1")
                }
                if tick.labelled {
                    svg += line(px, plotBottom, px, plotBottom + 4, stroke: "#888")
                    svg += #"<text x="\#(number(px))" y="\#(number(plotBottom + 16))" text-anchor="middle">"# + text(tickLabel(tick.ns), limit: 20) + "</text>"
                }
            }
        }

        /// Dotted p50 and p99 lines, one label row per series above the plot: "p50" left of its
        /// line, "p99" right of it, so the two never overlap.
        func markers(_ svg: inout String) {
            for (row, index) in markerRows.enumerated() {
                let series = d.series[index]
                let (color, _) = LatencyCharts.style(series.name, index: index)
                let labelY = 34 + Double(row) * 13 + 9
                for marker in LatencyCharts.levels(of: series) {
                    guard let value = marker.valueNs else { continue }
                    let px = x(value)
                    let isMedian = marker.level == .p50
                    svg += #"<line x1="\#(number(px))" y1="\#(number(labelY - 8))" x2="\#(number(px))" y2="\#(number(plotBottom))" "#
                        + #"stroke="\#(color)" stroke-width="1.2" stroke-dasharray="1 3" stroke-linecap="round"/>"#
                    svg += #"<text x="\#(number(isMedian ? px - 4 : px + 4))" y="\#(number(labelY))" text-anchor="\#(isMedian ? "end" : "start")" "#
                        + ##"font-size="10" fill="\##(color)" stroke="#fff" stroke-width="3" paint-order="stroke">\##(text(marker.level.label, limit: 20))</text>"##
                }
            }
        }

        func path(_ data: String, index: Int, fill: Bool) -> String {
            let (color, dash) = LatencyCharts.style(d.series[index].name, index: index)
            let fillAttributes = fill ? #"fill="\#(color)" fill-opacity="0.07""# : #"fill="none""#
            return #"<path d="\#(data)" \#(fillAttributes) stroke="\#(color)" stroke-width="1.8" stroke-linejoin="round""#
                + (dash.map { #" stroke-dasharray="\#($0)""# } ?? "") + "/>"
        }

        func legend(_ svg: inout String) {
            for (index, series) in d.series.enumerated() {
                let rowY = plotBottom + 58 + Double(index) * 17
                let (color, dash) = LatencyCharts.style(series.name, index: index)
                svg += #"<line x1="\#(number(plotLeft))" y1="\#(number(rowY - 4))" x2="\#(number(plotLeft + 24))" y2="\#(number(rowY - 4))" "#
                    + #"stroke="\#(color)" stroke-width="2.5""# + (dash.map { #" stroke-dasharray="\#($0)""# } ?? "") + "/>"
                svg += #"<text x="\#(number(plotLeft + 32))" y="\#(number(rowY))" font-size="11.5">"#
                    + ##"<tspan font-weight="600" fill="#222">"## + text(series.name, limit: 24) + "</tspan>"
                    + ##"<tspan dx="10" fill="#555">"## + text(details(series), limit: 200) + "</tspan></text>"
            }
        }

        func summary(_ series: LatencyDistribution.Series) -> String {
            series.name + ": " + details(series)
        }

        func details(_ series: LatencyDistribution.Series) -> String {
            guard series.count > 0 else { return "no samples" }
            var parts = ["n " + grouped(series.count)]
            for marker in LatencyCharts.levels(of: series) {
                if let value = marker.valueNs {
                    parts.append(marker.level.label + " " + duration(value))
                } else if let reason = marker.reason {
                    parts.append(reason)
                }
            }
            if let max = series.cdf.last?.valueNs { parts.append("max " + duration(max)) }
            return parts.joined(separator: " · ")
        }
    }

    /// p50 and p99 of `series`, each without a value when the series is too small for it.
    private static func levels(of series: LatencyDistribution.Series) -> [Marker] {
        [Percentile.p50, .p99].map { level in
            let reason = Percentiles.unavailableReason(level, count: series.count)
            return Marker(level: level, valueNs: reason == nil ? series.valueNs(at: level) : nil, reason: reason.map { _ in
                "\(level.label) n/a (needs ≥ \(grouped(level.minimumSamples)))"
            })
        }
    }

    private static func empty(title: String) -> String {
        #"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 120" width="100%" role="img" style="max-width:960px;height:auto" "#
            + ##"font-family="\##(fontFamily)" font-size="11" fill="#333">"##
            + "<title>" + text(title, limit: 200) + "</title>"
            + ##"<rect width="100%" height="100%" fill="#fff"/>"##
            + ##"<text x="12" y="21" font-size="14" font-weight="600" fill="#222">"## + text(title, limit: 90) + "</text>"
            + ##"<text x="400" y="72" text-anchor="middle" font-size="13" fill="#777">"## + text("no latency samples", limit: 60) + "</text></svg>"
    }

    // MARK: - Axis

    /// The data range widened to the enclosing 1-2-5 values (ns), at least one step on each
    /// side when the range is a single point.
    static func domain(low: Double, high: Double) -> (Double, Double) {
        var lower = oneTwoFive(atMost: max(low, 1))
        var upper = oneTwoFive(atLeast: max(high, lower))
        if upper <= lower {
            lower = oneTwoFive(atMost: lower * 0.99)
            upper = oneTwoFive(atLeast: upper * 1.01)
        }
        return (lower, upper)
    }

    static func oneTwoFive(atMost value: Double) -> Double {
        let decade = pow10(log10(value).rounded(.down))
        for m in [5.0, 2, 1] where m * decade <= value * (1 + 1e-9) { return m * decade }
        return decade / 2
    }

    static func oneTwoFive(atLeast value: Double) -> Double {
        let decade = pow10(log10(value).rounded(.down))
        for m in [1.0, 2, 5, 10] where m * decade >= value * (1 - 1e-9) { return m * decade }
        return decade * 10
    }

    /// Ticks at m × 10^k within [low, high]. Labelled: the densest of 1..9, 1-2-5, powers of ten
    /// and every other power of ten whose labels do not crowd; the rest are light gridlines.
    static func ticks(low: Double, high: Double, pixelsPerDecade: Double) -> [(ns: Double, labelled: Bool)] {
        var values: [Double] = []
        var exponent = log10(low).rounded(.down)
        while pow10(exponent) <= high * (1 + 1e-9) {
            for m in 1...9 {
                let value = Double(m) * pow10(exponent)
                if value >= low * (1 - 1e-9) && value <= high * (1 + 1e-9) { values.append(value) }
            }
            exponent += 1
        }
        func decade(_ value: Double) -> Int { Int(log10(value * (1 + 1e-9)).rounded(.down)) }
        func leading(_ value: Double) -> Int { Int((value / pow10(Double(decade(value)))).rounded()) }
        let choices: [(Double) -> Bool] = [
            { _ in true },
            { [1, 2, 5].contains(leading($0)) },
            { leading($0) == 1 },
            { leading($0) == 1 && decade($0) % 2 == 0 },
        ]
        let minimumGap = 10.0
        var chosen = choices[choices.count - 1]
        for choice in choices {
            let labelled = values.filter(choice)
            let crowded = zip(labelled, labelled.dropFirst()).contains { a, b in
                (log10(b) - log10(a)) * pixelsPerDecade < (labelWidth(a) + labelWidth(b)) / 2 + minimumGap
            }
            if !crowded { chosen = choice; break }
        }
        let gridded: Set<Int> = pixelsPerDecade >= 110 ? Set(1...9) : [1, 2, 5]
        return values.filter { chosen($0) || gridded.contains(leading($0)) }.map { ($0, chosen($0)) }
    }

    private static func labelWidth(_ ns: Double) -> Double {
        Double(tickLabel(ns).count) * 6.3
    }

    /// "0.1", "2", "500" (ms); "50 µs" below 0.1 ms; "2 s" from 1 s.
    static func tickLabel(_ ns: Double) -> String {
        if ns >= 1e9 * (1 - 1e-9) { return number(ns / 1e9) + " s" }
        if ns >= 1e5 * (1 - 1e-9) { return number(ns / 1e6) }
        if ns >= 1e3 * (1 - 1e-9) { return number(ns / 1e3) + " µs" }
        return number(ns) + " ns"
    }

    /// About three significant digits: "2.31 ms", "23.1 ms", "231 ms", "1.25 s", "850 µs".
    static func duration(_ ns: Int64) -> String {
        let value = Double(ns)
        func scaled(_ v: Double, _ unit: String) -> String {
            let decimals = v >= 100 ? 0 : (v >= 10 ? 1 : 2)
            return number(v, decimals: decimals, keepZeros: true) + " " + unit
        }
        if value >= 1e9 { return scaled(value / 1e9, "s") }
        if value >= 1e5 { return scaled(value / 1e6, "ms") }
        if value >= 1e3 { return scaled(value / 1e3, "µs") }
        return "\(ns) ns"
    }

    /// A 1-2-2.5-5 step giving about `intervals` intervals up to `maximum` (share of requests).
    static func niceStep(_ maximum: Double, intervals: Int) -> Double {
        guard maximum > 0 else { return 0.1 }
        let raw = maximum / Double(intervals)
        let decade = pow10(log10(raw).rounded(.down))
        for m in [1.0, 2, 2.5, 5] where m * decade >= raw { return m * decade }
        return 10 * decade
    }

    // MARK: - Text and numbers

    /// At most two decimals, trailing zeros dropped unless `keepZeros`: "12", "0.5", "3.25".
    static func number(_ value: Double, decimals: Int = 2, keepZeros: Bool = false) -> String {
        let scale = decimals == 0 ? 1 : (decimals == 1 ? 10 : 100)
        guard value.isFinite else { return "0" }
        let scaled = (value * Double(scale)).rounded()
        let magnitude = Int(abs(scaled))
        var out = (scaled < 0 ? "-" : "") + String(magnitude / scale)
        var fraction = magnitude % scale
        var digits = decimals
        if !keepZeros {
            guard fraction != 0 else { return out }
            while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
        }
        guard digits > 0 else { return out }
        let text = String(fraction)
        out += "." + String(repeating: "0", count: digits - text.count) + text
        return out
    }

    /// "12,345".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Escaped for XML and HTML, cut to `limit` characters with an ellipsis.
    static func text(_ raw: String, limit: Int) -> String {
        HTMLText.escape(raw.count > limit ? String(raw.prefix(limit - 1)) + "…" : raw)
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String) -> String {
        #"<line x1="\#(number(x1))" y1="\#(number(y1))" x2="\#(number(x2))" y2="\#(number(y2))" stroke="\#(stroke)"/>"#
    }
}

private func pow10(_ exponent: Double) -> Double { pow(10, exponent) }
