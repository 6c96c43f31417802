import FoundationXML
import ShadowCore
import ShadowDiff
import Testing

@testable import ShadowReport

private let facts = RunFacts(
    database: "shadow.db", run: "r1", startedAt: "2025-01-02T03:04:05Z", status: "finished",
    baseline: "http://127.0.0.1:8081", candidate: "http://127.0.0.1:8082")

private let hostile = "</testcase><script>alert(1)</script> \"'& \u{0}|x\ny `c` *b* _i_ [l](http://e.vil) @here #1 www.evil.com \u{FFFF}\r\t!"

private func result(_ side: Side, _ body: String, latencyMs: Double) -> SideResult {
    SideResult(exchangeID: 0, side: side, response: RecordedResponse(status: 200, headers: [], body: Array(body.utf8)),
               firstByteNs: 1, latencyNs: Int64(latencyMs * 1e6))
}

/// `pairs` pairs on each of `POST /bid` and `POST /win`. On `/bid` the candidate is `slowerMs`
/// slower, its price differs on every 10th pair and a secret token on every 5th; exchange 1's
/// candidate timed out. `/win` answers the same on both sides.
private func run(pairs: Int, slowerMs: Double, differences: Bool) -> DiffSummary {
    var rules = DiffRules()
    rules.bootstrapResamples = 200
    var accumulator = DiffAccumulator(rules: rules)
    var id: Int64 = 0
    for i in 0..<pairs {
        let base = 2 + Double(i % 37) / 100
        for target in ["/bid", "/win"] {
            id += 1
            let bid = target == "/bid" && differences
            let price = bid && i % 10 == 0 ? 2 : 1
            let token = bid && i % 5 == 0 ? "s3cret-c\(i)" : "s3cret-b\(i)"
            let request = RecordedRequest(method: "POST", target: target, headers: [], body: [])
            var candidate = result(.candidate, #"{"price":\#(price),"user":{"user_token":"\#(token)"}}"#,
                                   latencyMs: base + (target == "/bid" ? slowerMs : 0) + Double(i % 7) / 1000)
            if bid && i == 1 {
                candidate.response = nil
                candidate.error = .timeout
            }
            accumulator.add(exchangeID: id, request: request, results: [
                .baseline: result(.baseline, #"{"price":1,"user":{"user_token":"s3cret-b\#(i)"}}"#, latencyMs: base),
                .candidate: candidate,
            ])
        }
    }
    return accumulator.finish()
}

private let failing = run(pairs: 1_200, slowerMs: 2, differences: true)
private let passing = run(pairs: 1_200, slowerMs: 0, differences: false)
private let small = run(pairs: 50, slowerMs: 0, differences: false)

/// `failing` with hostile text in an endpoint, a field, example values, a gate's value and an error side.
private let hostileRun: DiffSummary = {
    var s = failing
    s.groups[0].endpoint = hostile
    s.groups[0].field = hostile
    s.groups[0].examples[0].values = ["baseline": hostile, "candidate": hostile]
    s.groups[0].examples[0].path = nil
    s.latency.endpoints[0].endpoint = hostile
    s.gates[0].value += hostile
    s.errors[hostile] = [hostile: 1]
    return s
}()

private func parse(_ xml: String) throws -> XMLDocument {
    try XMLDocument(xmlString: xml, options: [])
}

private func elements(_ doc: XMLDocument, _ path: String) throws -> [XMLElement] {
    try doc.nodes(forXPath: path).compactMap { $0 as? XMLElement }
}

private func attribute(_ element: XMLElement, _ name: String) -> String? {
    element.attribute(forName: name)?.stringValue
}

/// The test case named `name` in suite `suite`.
private func testCase(_ doc: XMLDocument, _ suite: String, _ name: String) throws -> XMLElement? {
    try elements(doc, "//testsuite[@name='\(suite)']/testcase").first { attribute($0, "name") == name }
}

/// `|` characters that are not backslash-escaped.
private func cellSeparators(_ line: String) -> Int {
    var count = 0
    var escaped = false
    for c in line {
        if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "|" { count += 1 }
    }
    return count
}

/// Every Markdown table: its lines, split at blank lines.
private func tables(_ markdown: String) -> [[Substring]] {
    markdown.split(separator: "\n\n").map { $0.split(separator: "\n") }.filter { $0.first?.hasPrefix("|") == true }
}

@Suite struct CIReportsTests {
    @Test func fixtureRunsAreWhatTheTestsAssume() {
        #expect(!failing.passed && failing.gates.map(\.passed) == [false, true, false, false])
        #expect(failing.latency.endpoints.map(\.endpoint) == ["POST /bid", "POST /win"])
        #expect(failing.latency.endpoints.map(\.regressed) == [true, false])
        // The pair whose candidate timed out is judged by the error gate, not compared for decisions.
        #expect(Set(failing.groups.map(\.field)) == ["/price", "/user/user_token"])
        #expect(failing.errorPairs == 1 && failing.errorVerdict.kinds.map(\.kind) == ["timeout"])
        #expect(passing.passed && passing.groups.isEmpty)
    }

    @Test func junitParsesAndItsCountsAreThoseOfItsTestCases() throws {
        let doc = try parse(JUnitReport.render(failing, facts: facts))
        let root = try #require(doc.rootElement())
        #expect(root.name == "testsuites")
        let cases = try elements(doc, "//testcase")
        let failures = try elements(doc, "//testcase/failure")
        #expect(attribute(root, "tests") == "\(cases.count)" && attribute(root, "failures") == "\(failures.count)")
        let suites = try elements(doc, "/testsuites/testsuite")
        #expect(suites.map { attribute($0, "name") } == ["shadowdiff.gates", "shadowdiff.latency", "shadowdiff.decisions", "shadowdiff.errors"])
        for suite in suites {
            let own = suite.elements(forName: "testcase")
            #expect(attribute(suite, "tests") == "\(own.count)")
            #expect(attribute(suite, "failures") == "\(own.filter { !$0.elements(forName: "failure").isEmpty }.count)")
            #expect(attribute(suite, "timestamp") == facts.startedAt && attribute(suite, "time") == "0")
            #expect(own.allSatisfy { attribute($0, "time") == "0" && attribute($0, "classname") == attribute(suite, "name") })
        }
        // gates 4 + latency (overall, /bid, /win) × (p50, p99) 6 + decisions (/bid, /win) 2 + errors (timeout) 1
        #expect(cases.count == 13)
        #expect(try elements(doc, "//skipped").isEmpty)
    }

    @Test func junitHasOneFailurePerFailedGateWithItsValue() throws {
        let doc = try parse(JUnitReport.render(failing, facts: facts))
        let gateCases = try elements(doc, "//testsuite[@name='shadowdiff.gates']/testcase")
        #expect(gateCases.map { attribute($0, "name") } == failing.gates.map(\.name))
        for (gate, element) in zip(failing.gates, gateCases) {
            let failures = element.elements(forName: "failure")
            #expect(failures.count == (gate.passed ? 0 : 1))
            #expect(failures.allSatisfy { attribute($0, "message")?.contains(gate.value) == true })
        }
    }

    @Test func junitLatencyCasesFailWithEstimateIntervalAndThreshold() throws {
        let doc = try parse(JUnitReport.render(failing, facts: facts))
        let bid = try #require(try testCase(doc, "shadowdiff.latency", "POST /bid p99"))
        let message = try #require(bid.elements(forName: "failure").first.flatMap { attribute($0, "message") })
        #expect(message.contains("regressed") && message.contains("Δp99 +2.0") && message.contains("[+")
            && message.contains("threshold +1.000 ms"))
        let win = try #require(try testCase(doc, "shadowdiff.latency", "POST /win p50"))
        #expect(win.elements(forName: "failure").isEmpty)
        #expect(win.elements(forName: "system-out").first?.stringValue?.hasPrefix("ok: Δp50") == true)
        #expect(try testCase(doc, "shadowdiff.latency", "overall p99")?.elements(forName: "failure").count == 1)
    }

    @Test func junitGateNotJudgedPassesAndSaysWhy() throws {
        let doc = try parse(JUnitReport.render(small, facts: facts))
        let p99 = try #require(try testCase(doc, "shadowdiff.latency", "overall p99"))
        #expect(p99.elements(forName: "failure").isEmpty && p99.elements(forName: "skipped").isEmpty)
        #expect(p99.elements(forName: "system-out").first?.stringValue == "not judged: p99 needs ≥ 1000 pairs (has 100)")
    }

    @Test func junitDecisionsFailPerEndpointWithTopFieldsAndExamples() throws {
        let doc = try parse(JUnitReport.render(failing, facts: facts, redaction: .none))
        let bid = try #require(try testCase(doc, "shadowdiff.decisions", "POST /bid"))
        let failure = try #require(bid.elements(forName: "failure").first)
        #expect(attribute(failure, "message")?.contains("/price 10.01%") == true)
        #expect(attribute(failure, "message")?.contains("/user/user_token 20.02%") == true)
        #expect(failure.stringValue?.contains("e.g. #") == true && failure.stringValue?.contains("1 → 2") == true)
        let win = try #require(try testCase(doc, "shadowdiff.decisions", "POST /win"))
        #expect(win.elements(forName: "failure").isEmpty)
    }

    @Test func hostileStringsAreEscapedInJUnit() throws {
        let xml = JUnitReport.render(hostileRun, facts: facts, redaction: .none)
        #expect(!xml.contains("<script>") && !xml.contains("\u{0}") && !xml.contains("\u{FFFF}"))
        let doc = try parse(xml)
        func kept(_ text: String) -> String {
            String(String.UnicodeScalarView(text.unicodeScalars.filter {
                $0.value >= 0x20 && $0.value != 0xFFFF || ["\t", "\n", "\r"].contains($0)
            }))
        }
        let name = kept(hostile), value = kept(ReportText.clip(hostile))
        let decision = try #require(try testCase(doc, "shadowdiff.decisions", name))
        #expect(decision.elements(forName: "failure").first?.stringValue?.contains(value + " → " + value) == true)
        #expect(try testCase(doc, "shadowdiff.latency", name + " p99") != nil)
        #expect(try elements(doc, "//testcase").count == (try elements(doc, "//testsuite")).map {
            Int(attribute($0, "tests") ?? "") ?? -1
        }.reduce(0, +))
    }

    @Test func hostileStringsAreEscapedInMarkdownAndKeepTablesWhole() {
        let markdown = MarkdownReport.render(hostileRun, facts: facts, redaction: .none)
        for bad in ["<script>", "</testcase>", "\u{0}", "\u{FFFF}", "\r", "[l](", "http://e.vil", " @here", " #1", "www.evil", "`c`", "*b*", "_i_"] {
            #expect(!markdown.contains(bad), "\(bad.debugDescription) left unescaped")
        }
        #expect(markdown.contains("&lt;/testcase&gt;&lt;script&gt;") && markdown.contains("&quot;") == false)
        let found = tables(markdown)
        #expect(found.count == 4)
        for table in found {
            let cells = Set(table.map { cellSeparators(String($0)) })
            #expect(cells.count == 1, "rows with different cell counts: \(table)")
        }
        let mismatches = found.first { $0[0].contains("field") }
        #expect(mismatches?.count == 2 + hostileRun.groups.count)
        #expect(found.first { $0[0].contains("endpoint | pairs") }?.count == 2 + 1 + hostileRun.latency.endpoints.count)
    }

    @Test func escapingIsExact() {
        #expect(MarkdownReport.escape("a|b\\c\n<&>") == "a\\|b\\\\c\u{240A}&lt;&amp;&gt;")
        #expect(MarkdownReport.escape("see www.x.com or WWW.y") == "see www\\.x.com or WWW\\.y")
        #expect(JUnitReport.escape("<a b='c' d=\"e\">&\u{1}\u{FFFE}\t\n\r") == "&lt;a b=&apos;c&apos; d=&quot;e&quot;&gt;&amp;\t\n&#13;")
        #expect(JUnitReport.escape("\t\n", attribute: true) == "&#9;&#10;")
        #expect(ReportText.clip(String(repeating: "x", count: 100)) == String(repeating: "x", count: 79) + "…")
    }

    @Test func redactionHidesASecretFieldsExampleInBothOutputs() {
        let redaction = Redaction(fields: ["user_token"])
        let markdown = MarkdownReport.render(failing, facts: facts, redaction: redaction)
        let xml = JUnitReport.render(failing, facts: facts, redaction: redaction)
        #expect(!markdown.contains("s3cret") && !xml.contains("s3cret"))
        #expect(markdown.contains("\\[redacted\\] → \\[redacted\\]") && xml.contains("[redacted] → [redacted]"))
        #expect(MarkdownReport.render(failing, facts: facts, redaction: .none).contains("s3cret"))
        #expect(JUnitReport.render(failing, facts: facts, redaction: .none).contains("s3cret"))
    }

    @Test func failingMarkdownSaysWhyAndShowsTheEvidence() {
        let markdown = MarkdownReport.render(failing, facts: facts, htmlPath: "out/report.html")
        let lines = markdown.split(separator: "\n")
        #expect(lines.first == "### ❌ do not ship: failed mismatch rate, latency p50, latency p99")
        #expect(markdown.contains("Run **r1**: 2399 pairs") && markdown.contains("baseline http\\://127.0.0.1\\:8081"))
        #expect(markdown.contains("| mismatch rate | 10% | 0.1% | **FAIL** |"))
        #expect(lines.contains { $0.hasPrefix("| POST /bid | 1199 |") && $0.hasSuffix("| **regressed** p50, p99 |") })
        #expect(lines.contains { $0.hasPrefix("| POST /win | 1200 |") && $0.hasSuffix("| ok |") })
        #expect(lines.contains { $0.hasPrefix("| POST /bid | /price | field | 120 | 10.01% | – | \\#") && $0.hasSuffix(": 1 → 2 |") })
        #expect(markdown.contains("- candidate: timeout 1"))
        #expect(lines.last == "Full report: out/report.html")
    }

    @Test func passingMarkdownShowsShip() {
        let markdown = MarkdownReport.render(passing, facts: facts)
        #expect(markdown.hasPrefix("### ✅ ship: all 4 gates passed\n"))
        #expect(markdown.contains("No mismatches beyond noise.") && !markdown.contains("FAIL") && !markdown.contains("Full report"))
    }

    @Test func percentilesWithTooFewPairsSaySo() {
        let markdown = MarkdownReport.render(small, facts: facts)
        let overall = markdown.split(separator: "\n").first { $0.hasPrefix("| overall |") }
        #expect(overall?.contains("| – |") == true && overall?.contains("needs ≥ 1000 pairs") == true)
        #expect(overall?.hasSuffix("| ok; p99 not judged |") == true)
    }

    @Test func longListsAreCappedAndCounted() {
        var s = failing
        let endpoint = s.latency.endpoints[1]
        s.latency.endpoints = (0..<13).map { i in
            var e = endpoint
            e.endpoint = "GET /e\(i)"
            return e
        } + [s.latency.endpoints[0]]
        s.groups = (0..<12).map { i in
            var g = failing.groups[0]
            g.field = "/f\(i)"
            return g
        }
        let markdown = MarkdownReport.render(s, facts: facts)
        let found = tables(markdown)
        #expect(found[1].count == 2 + 1 + 10 && found[1][3].hasPrefix("| POST /bid |"))
        #expect(found[2].count == 2 + 10)
        #expect(markdown.contains("… 4 more endpoints") && markdown.contains("… 2 more groups"))
    }
}
