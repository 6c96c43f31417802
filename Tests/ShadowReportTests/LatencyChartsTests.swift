import Foundation
import ShadowCore
import ShadowStats
import Testing

@testable import ShadowReport

#if canImport(FoundationXML)
import FoundationXML
#endif

struct LatencyChartsTests {
    private func logNormal(_ count: Int, medianNs: Double, sigma: Double, seed: UInt64) -> [Int64] {
        var random = SplitMix64(seed: seed)
        func unit() -> Double { Double(random.next() >> 11 + 1) * 0x1p-53 }
        return (0..<count).map { _ in
            Int64(medianNs * exp(sigma * (-2 * log(unit())).squareRoot() * cos(2 * Double.pi * unit())))
        }.sorted()
    }

    private var threeSides: LatencyDistribution {
        LatencyDistribution(series: [
            ("baseline", logNormal(20_000, medianNs: 1_900_000, sigma: 0.45, seed: 1)),
            ("candidate", logNormal(20_000, medianNs: 2_200_000, sigma: 0.5, seed: 2)),
            ("secondary", logNormal(20_000, medianNs: 1_900_000, sigma: 0.45, seed: 3)),
        ])
    }

    private func charts(_ d: LatencyDistribution, title: String = "latency") -> [String] {
        [LatencyCharts.cdf(d, title: title), LatencyCharts.histogram(d, title: title)]
    }

    @discardableResult
    private func parse(_ svg: String) throws -> XMLElement {
        let document = try XMLDocument(xmlString: svg, options: [])
        let root = try #require(document.rootElement())
        // FoundationXML's attribute(forName:) does not find attributes of an element in a namespace.
        func attribute(_ name: String) -> String? { root.attributes?.first { $0.name == name }?.stringValue }
        #expect(root.name == "svg")
        #expect(root.uri == "http://www.w3.org/2000/svg")
        #expect(attribute("viewBox")?.hasPrefix("0 0 ") == true)
        #expect(attribute("width") == "100%")
        #expect(attribute("role") == "img")
        #expect(root.children?.first?.name == "title")
        return root
    }

    private func occurrences(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// Self-contained: nothing that loads, runs or needs a stylesheet.
    private func expectSelfContained(_ svg: String) {
        let lower = svg.lowercased()
        for forbidden in ["<script", "href", "url(", "class=", "<style", "<foreignobject", "<image", "@import"] {
            #expect(!lower.contains(forbidden), "\(forbidden)")
        }
        #expect(lower.range(of: #"<[^>]*\son[a-z]+="#, options: .regularExpression) == nil)
    }

    @Test func chartsAreWellFormedSelfContainedSVGWithOnePathPerSeries() throws {
        for svg in charts(threeSides) {
            let root = try parse(svg)
            expectSelfContained(svg)
            #expect(occurrences("<path", in: svg) == 3)
            for color in ["#1f77b4", "#d62728", "#7f7f7f"] { #expect(svg.contains("stroke=\"\(color)\""), "\(color)") }
            #expect(svg.contains(#"stroke-dasharray="6 4""#))
            let texts = try root.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
            for tick in ["0.5", "1", "2", "5", "10"] { #expect(texts.contains(tick), "tick \(tick)") }
            #expect(texts.contains("latency (ms, log scale)"))
            #expect(texts.filter { $0 == "p50" }.count == 3 && texts.filter { $0 == "p99" }.count == 3)
            let baselineP99 = try #require(threeSides.series[0].valueNs(at: .p99))
            #expect(texts.contains { $0.hasPrefix("baseline") && $0.contains("p99 " + LatencyCharts.duration(baselineP99)) })
            // At most two decimals in every number.
            #expect(svg.range(of: #"\d\.\d{3}"#, options: .regularExpression) == nil)
        }
    }

    @Test func hostileNamesAndTitlesAreEscaped() throws {
        let hostile = "</svg><script>alert(1)</script>"
        let d = LatencyDistribution(series: [
            ("baseline", logNormal(500, medianNs: 1e6, sigma: 0.3, seed: 4)),
            (hostile, logNormal(500, medianNs: 1.2e6, sigma: 0.3, seed: 5)),
            ("\"quoted\" & 'x' \u{0}\u{1B}\u{FFFF}\u{FFFE}", []),
        ])
        for svg in charts(d, title: "<b onload=\"x\">" + hostile + "\u{FFFF}") + charts(LatencyDistribution(series: []), title: hostile) {
            let root = try parse(svg)
            expectSelfContained(svg)
            #expect(!svg.contains(hostile))
            #expect(!svg.unicodeScalars.contains { $0.value == 0xFFFE || $0.value == 0xFFFF })  // not XML characters
            let texts = try root.nodes(forXPath: "//*[local-name()='text' or local-name()='title' or local-name()='tspan']")
                .compactMap(\.stringValue)
            #expect(texts.contains { $0.contains(hostile) })
        }
        #expect(charts(d)[0].contains("&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
    }

    @Test func emptyAndDegenerateDistributions() throws {
        for d in [LatencyDistribution(series: []), LatencyDistribution(series: [("baseline", []), ("candidate", [])])] {
            for svg in charts(d) {
                try parse(svg)
                #expect(svg.contains("no latency samples"))
                #expect(!svg.contains("<path"))
            }
        }
        let point = LatencyDistribution(series: [("baseline", [Int64](repeating: 2_000_000, count: 30)), ("candidate", [900])])
        for svg in charts(point) {
            try parse(svg)
            #expect(occurrences("<path", in: svg) == 2)
            #expect(svg.contains("p99 n/a (needs ≥ 1,000)"))
            #expect(!svg.contains("nan") && !svg.contains("inf"))
        }
        // A distribution decoded from a tampered report draws something instead of trapping.
        var tampered = point
        tampered.series[0].histogram += [7, 7]
        tampered.series[1].cdf = []
        tampered.series[1].count = 5
        for svg in charts(tampered) { try parse(svg) }
    }

    @Test func millionSamplesKeepEachChartSmall() throws {
        let million = logNormal(1_000_000, medianNs: 2_000_000, sigma: 0.8, seed: 6)
        let d = LatencyDistribution(series: [
            ("baseline", million), ("candidate", million.map { $0 + $0 / 8 }), ("secondary", million.map { $0 + 20_000 }),
        ])
        for svg in charts(d) {
            try parse(svg)
            #expect(svg.utf8.count < 40_000)
        }
    }

    @Test func axisTicksFollowOneTwoFive() {
        #expect(LatencyCharts.domain(low: 230_000, high: 23_000_000) == (200_000, 50_000_000))
        #expect(LatencyCharts.domain(low: 2_000_000, high: 2_000_000) == (1_000_000, 5_000_000))
        #expect(LatencyCharts.tickLabel(50_000) == "50 µs")
        #expect(LatencyCharts.tickLabel(100_000) == "0.1")
        #expect(LatencyCharts.tickLabel(20_000_000) == "20")
        #expect(LatencyCharts.tickLabel(2_000_000_000) == "2 s")
        let narrow = LatencyCharts.ticks(low: 200_000, high: 50_000_000, pixelsPerDecade: 300)
        #expect(narrow.filter(\.labelled).map(\.ns) == [2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7])
        let wide = LatencyCharts.ticks(low: 1_000, high: 1e10, pixelsPerDecade: 100)
        #expect(wide.filter(\.labelled).map(\.ns) == [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10])
        #expect(LatencyCharts.duration(2_314_000) == "2.31 ms")
        #expect(LatencyCharts.duration(2_000_000) == "2.00 ms")
        #expect(LatencyCharts.duration(23_140_000) == "23.1 ms")
        #expect(LatencyCharts.duration(850_000) == "0.85 ms")
        #expect(LatencyCharts.duration(45_000) == "45.0 µs")
        #expect(LatencyCharts.number(3.14159) == "3.14" && LatencyCharts.number(-0.001) == "0" && LatencyCharts.number(0.5) == "0.5")
    }
}
