import ArgumentParser
import Foundation
import ShadowCore
import ShadowDiff
import ShadowReplay
import ShadowReport
import ShadowStore

/// Where `diff` and `report` write their reports, and what they hide.
struct ReportOutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the JSON report (every group and statistic) to this file.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Write the self-contained HTML review report to this file.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Write a short Markdown summary (for a pull request or CI job summary) to this file.", valueName: "file"))
    var markdown: String?

    @Option(help: ArgumentHelp("Write JUnit XML (one test case per gate, and per endpoint and gate) to this file.", valueName: "file"))
    var junit: String?

    @OptionGroup(title: "Secrets")
    var secrets: RedactionOptions

    var anyFile: Bool { json != nil || html != nil || markdown != nil || junit != nil }
}

/// What reports and `show` hide: secret headers always, plus named headers and fields.
struct RedactionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Also hide this header's values (repeatable; Authorization, Proxy-Authorization, Cookie and Set-Cookie always are).", valueName: "name"))
    var redactHeader: [String] = []

    @Option(help: ArgumentHelp("Hide the values of JSON members and query parameters with this name (repeatable).", valueName: "name"))
    var redactField: [String] = []

    @Flag(help: "Show secret headers and fields instead of hiding them.")
    var showSecrets = false

    var redaction: Redaction { Redaction(headers: redactHeader, fields: redactField, enabled: !showSecrets) }
}

/// One diff of a run: scan it under the rules, then write what was asked and record the verdict.
struct DiffSession {
    let database: ShadowDatabase
    let run: RunInfo
    let rules: DiffRules
    let summary: DiffSummary
    let facts: RunFacts

    init(db path: String, run name: String?, rules: DiffRules) throws {
        database = try ShadowDatabase(path: path, mode: .mustExist)
        run = try database.run(named: name)
        self.rules = rules
        var accumulator = DiffAccumulator(rules: rules)
        try database.scanResults(runID: run.id, requestBodies: rules.preset == .auto) { set in
            let exchange = set.exchange.exchange
            accumulator.add(
                exchangeID: set.exchange.id, pass: set.pass, request: exchange.request,
                production: (exchange.response, failure: exchange.productionError), results: set.results)
        }
        summary = accumulator.finish()
        facts = try Self.facts(database, run, path: path)
    }

    /// Writes every report `outputs` names (each created with mode 0600) and prints its path.
    func write(_ outputs: ReportOutputOptions) throws {
        let redaction = outputs.secrets.redaction
        func save(_ path: String, _ what: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch {
                throw ShadowError.io(path: path, detail: "cannot write the \(what): \(error.localizedDescription)")
            }
            print("\(what) written to \(path)")
        }
        func text(_ path: String, _ content: String) throws {
            try PrivateFile.write(Data(content.utf8), to: path)
        }
        if let path = outputs.json {
            try save(path, "JSON report") { try JSONReport(run: facts, diff: summary).write(to: path) }
        }
        if let path = outputs.html {
            let examples = try HTMLReport.examplesToShow(summary).compactMap { key in
                try database.resultSet(runID: run.id, exchangeID: key.exchange, pass: key.pass).map { set in
                    ExchangeView(
                        exchangeID: key.exchange, pass: key.pass, exchange: set.exchange.exchange, results: set.results, rules: rules,
                        redaction: redaction)
                }
            }
            let report = HTMLReport(
                summary: summary, facts: facts, examples: examples, redaction: redaction,
                generatedAt: ISO8601DateFormatter().string(from: Date()))
            try save(path, "HTML report") { try report.write(to: path) }
        }
        if let path = outputs.markdown {
            try save(path, "Markdown summary") {
                try text(path, MarkdownReport.render(summary, facts: facts, redaction: redaction, htmlPath: outputs.html))
            }
        }
        if let path = outputs.junit {
            try save(path, "JUnit report") { try text(path, JUnitReport.render(summary, facts: facts, redaction: redaction)) }
        }
    }

    /// Stores the verdict with the run, for `shadowdiff runs`.
    func recordVerdict() throws {
        let failed = summary.gates.filter { !$0.passed }
        let line = summary.passed
            ? "pass: \(summary.mismatched) of \(summary.pairs) pairs differ, no latency regression"
            : "fail: " + failed.map { "\($0.name) \($0.value)" }.joined(separator: "; ")
        try database.recordVerdict(runID: run.id, StoredVerdict(
            passed: summary.passed, pairs: summary.pairs, mismatched: summary.mismatched, failedGates: failed.map(\.name), summary: line))
    }

    private static func facts(_ database: ShadowDatabase, _ run: RunInfo, path: String) throws -> RunFacts {
        let config = try? JSONDecoder().decode(ReplayConfiguration.self, from: Data(run.config.utf8))
        var facts = RunFacts(
            database: path, run: run.name, startedAt: run.startedAt, status: run.status,
            baseline: config?.baseline.url ?? "?", candidate: config?.candidate.url ?? "?", secondary: config?.secondary?.url)
        facts.finishedAt = run.finishedAt
        facts.configuration = run.config
        let captures = try database.captures().filter { run.captureID == nil || $0.id == run.captureID }
        facts.capture = captures.map { "capture \($0.id) (\($0.sourceKind) \($0.source), \($0.exchanges) exchanges, \($0.startedAt))" }
            .joined(separator: "; ")
        facts.drops = captures.flatMap { capture in
            capture.counters.drops.map { RunFacts.Drop(stage: "capture \(capture.id)", reason: $0.0.rawValue, count: $0.1) }
        }
        facts.drops += run.counters.values
            .filter { ($0.key.hasPrefix("skipped_") || $0.key == "late_requests" || $0.key == "resumed_skipped") && $0.value > 0 }
            .sorted { $0.key < $1.key }
            .map { RunFacts.Drop(stage: "replay", reason: $0.key, count: $0.value) }
        let requests = run.counters["exchanges"]
        facts.requests = requests
        let iso = ISO8601DateFormatter()
        if let finished = run.finishedAt.flatMap(iso.date(from:)), let started = iso.date(from: run.startedAt) {
            let seconds = finished.timeIntervalSince(started)
            if seconds >= 1 { facts.ratePerSecond = Double(requests) / seconds }
        }
        if let config {
            var timing: String
            switch config.timing {
            case .concurrency(let n): timing = "--concurrency \(n)"
            case .rate(let r): timing = "--rate \(r)"
            case .speed(let x): timing = "--speed \(x)"
            }
            timing += ", \(config.connections) connections per side"
            if config.loop { timing += ", --loop" }
            if let limit = config.limit { timing += ", --limit \(limit)" }
            if config.warmup > 0 { timing += ", --warmup \(config.warmup)" }
            facts.timing = timing
        }
        return facts
    }
}
