import Foundation
import ShadowCore
import ShadowStore
import Testing

/// `report`, `show` and `runs` driven through the binary; the HTML report rendered by headless
/// Chromium (scripts/report-check.sh), which fails on any console error, script or fetch.
@Suite struct ReviewReportTests {
    static let secretHeader = "Bearer SECRET-TOKEN-123"
    static let secretField = "FIELD-SECRET-456"

    /// A run whose every captured and answered byte is hostile: script tags, attribute breakers,
    /// `</script>`, invalid UTF-8, control characters, secrets.
    static func hostileDatabase(_ path: String) throws {
        let db = try ShadowDatabase(path: path, mode: .createIfMissing)
        let capture = try db.beginCapture(sourceKind: "pcap", source: "<script>alert('source')</script>.pcap", filter: nil)
        let writer = ExchangeWriter(database: db, captureID: capture)
        let evil = #"</script><script>alert(1)</script>"><img src=x onerror=alert(2)>'"#
        let request = Array(#"{"id":"r1","imp":[{"id":"1","tagid":"\#(evil.replacingOccurrences(of: "\"", with: "\\\""))"}],"user":{"token":"\#(secretField)"}}"#.utf8)
        for n in 0..<3 {
            try writer.append(CapturedExchange(
                captureTimeNs: Int64(n) * 1_000_000, connection: 1, client: "10.0.0.1:5000", server: "10.0.0.2:80", wireProtocol: .http1,
                request: RecordedRequest(
                    method: "POST", target: "/bid/<script>alert(3)</script>?q=\"><svg onload=alert(4)>&token=\(secretField)",
                    headers: [HeaderField("Authorization", secretHeader), HeaderField("X-Evil", evil + "\u{1B}[31m"),
                              HeaderField("Content-Type", "application/json")],
                    body: request),
                response: RecordedResponse(status: 200, headers: [HeaderField("Set-Cookie", "session=\(secretField)")],
                                           body: Array(#"{"id":"r1","seatbid":[{"bid":[{"impid":"1","price":1.5,"adm":"\#(evil.replacingOccurrences(of: "\"", with: "\\\""))"}]}]}"#.utf8)),
                productionLatencyNs: 2_000_000))
        }
        try writer.flush()
        try db.storeCaptureCounters(id: capture, counters: Counters(["gap": 2, "exchanges": 3]))
        let run = try db.createRun(name: "hostile", captureID: capture, config: #"{"note":"</script><script>alert(5)</script>"}"#)
        var rows: [ResultRow] = []
        for id in Int64(1)...3 {
            rows.append(ResultRow(
                exchangeID: id, pass: 0, side: .baseline, status: 200, latencyNs: 1_000_000,
                headers: "Content-Type: application/json\r\nX-Evil: <script>alert(6)</script>",
                body: Array(#"{"id":"b","seatbid":[{"bid":[{"impid":"1","price":1.5,"crid":"<img src=x onerror=alert(7)>","adm":"</script><script>alert(8)</script>"}]}]}"#.utf8)))
            rows.append(ResultRow(
                exchangeID: id, pass: 0, side: .candidate, status: 200, latencyNs: 1_200_000,
                headers: "Content-Type: text/html\r\nSet-Cookie: s=\(secretField)",
                body: Array("<script>alert(9)</script>".utf8) + [0xFF, 0xFE, 0xC3, 0x28] + Array("</textarea></pre>'\"".utf8)))
        }
        try db.insertResults(runID: run.id, rows)
        try db.finishRun(id: run.id, counters: Counters(["exchanges": 3, "skipped_not_sampled": 5]), status: "complete")
    }

    @Test func hostileContentIsEscapedRedactedAndNothingExecutesInChromium() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/hostile.db"
            try Self.hostileDatabase(db)
            let html = dir + "/report.html", markdown = dir + "/summary.md", junit = dir + "/junit.xml"
            let report = try Harness.shadowdiff(
                "report", "--db", db, "--html", html, "--markdown", markdown, "--junit", junit, "--redact-field", "token")
            #expect(report.status == 1, "the candidate's answers differ: \(report.stdout)\(report.stderr)")
            let page = try String(contentsOfFile: html, encoding: .utf8)
            #expect(!page.lowercased().contains("<script"), "no script element, hostile or ours")
            for tag in ["<img", "<svg onload", "<textarea", "</textarea"] {
                #expect(!page.contains(tag), "hostile \(tag) came through unescaped")
            }
            #expect(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "hostile text is shown, escaped")
            #expect(page.contains("\\xFF\\xFE"), "invalid UTF-8 is shown as hex")
            #expect(!page.contains("\u{1B}"), "no control characters")
            for output in [page, try String(contentsOfFile: markdown, encoding: .utf8), try String(contentsOfFile: junit, encoding: .utf8)] {
                #expect(!output.contains("SECRET-TOKEN-123") && !output.contains(Self.secretField), "secrets are redacted by default")
            }
            #expect(page.contains("[redacted]"))
            #expect(page.contains("<td>capture 1</td><td>gap</td><td class=\"n\">2</td>"), "capture drops are shown by reason")
            #expect(page.contains("<td>replay</td><td>skipped not sampled</td><td class=\"n\">5</td>"), "replay skips too")
            let attributes = try FileManager.default.attributesOfItem(atPath: html)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)

            let check = try Harness.run("/bin/bash", [Harness.root + "/scripts/report-check.sh", html, dir + "/report.png"], timeout: 90)
            #expect(check.status == 0, "Chromium: \(check.stdout)\(check.stderr)")

            let shown = try Harness.shadowdiff("report", "--db", db, "--html", dir + "/shown.html", "--show-secrets")
            #expect(shown.status == 1)
            let revealed = try String(contentsOfFile: dir + "/shown.html", encoding: .utf8)
            #expect(revealed.contains("SECRET-TOKEN-123"), "--show-secrets shows them")
            #expect(!revealed.lowercased().contains("<script"))

            let unwritable = try Harness.shadowdiff("report", "--db", db, "--html", dir + "/missing/report.html")
            #expect(unwritable.status == 2 && unwritable.stderr.contains(dir + "/missing/report.html: cannot write the HTML report"),
                    "\(unwritable.stderr)")
            let nothing = try Harness.shadowdiff("report", "--db", db)
            #expect(nothing.status == 2 && nothing.stderr.contains("--html"), "\(nothing.stderr)")

            let show = try Harness.shadowdiff("show", "--db", db, "2")
            #expect(show.status == 0, "\(show.stderr)")
            #expect(!show.stdout.contains("\u{1B}") && !show.stdout.contains("SECRET-TOKEN-123"))
            #expect(show.stdout.contains("\\xFF\\xFE"))
        }
    }
}
