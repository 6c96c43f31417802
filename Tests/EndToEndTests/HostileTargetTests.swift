import Foundation
import ShadowCore
import ShadowStore
import Testing

/// `replay` against fixtures/bad-upstream.py as the candidate: every fault ends in a stored result
/// with its kind within the timeouts, the run goes on with a fresh connection, a 100 MiB body does
/// not grow the replayer's memory, and `diff` reports the errors per side and kind.
@Suite struct HostileTargetTests {
    static let timeoutMs = 1000
    static let connectTimeoutMs = 500
    static let maxBodyBytes = 1 << 20
    /// The replayer's peak RSS: a debug build uses about 40 MB here; holding the 100 MiB body would pass it.
    static let maxPeakRSSKiB = 150 << 10

    /// The candidate's faults, in replay order, each followed by an `/ok`, with the kind its result must carry.
    static let faults: [(path: String, kind: ReplayErrorKind)] = [
        ("/garbage", .invalidResponse), ("/bad-length", .invalidResponse),
        ("/reset", .connectionReset), ("/reset-midway", .connectionReset),
        ("/stall", .timeout), ("/trickle", .timeout),
        ("/midway", .incompleteResponse), ("/headers-only", .incompleteResponse),
        ("/big", .bodyTooLarge), ("/big-chunked", .bodyTooLarge),
    ]

    /// The capture's request paths: two `/ok` on one kept-alive connection, each fault followed by
    /// an `/ok`, then a chunked answer.
    static let paths = ["/ok", "/ok"] + faults.flatMap { [$0.path, "/ok"] } + ["/chunked"]

    /// A capture of `paths`, each a POST of a sample bid request (which the fixture bidder answers on any path).
    static func capture(_ path: String) throws {
        let body = try Data(contentsOf: URL(fileURLWithPath: Harness.root + "/fixtures/requests/01-banner-300x250-site.json"))
        let db = try ShadowDatabase(path: path, mode: .createIfMissing)
        let capture = try db.beginCapture(sourceKind: "pcap", source: "hostile-targets", filter: nil)
        let writer = ExchangeWriter(database: db, captureID: capture)
        for (n, target) in paths.enumerated() {
            try writer.append(CapturedExchange(
                captureTimeNs: Int64(n) * 1_000_000, connection: 1, client: "10.0.0.1:5000", server: "10.0.0.2:80",
                request: RecordedRequest(
                    method: "POST", target: target, headers: [HeaderField("Content-Type", "application/json")], body: Array(body)),
                response: nil, productionLatencyNs: nil))
        }
        try writer.flush()
    }

    /// Every stored result of `run`, by exchange id (ids follow `paths`, from 1).
    static func results(_ path: String, run: String) throws -> [Int64: [Side: SideResult]] {
        let db = try ShadowDatabase(path: path, mode: .mustExist)
        var all: [Int64: [Side: SideResult]] = [:]
        try db.scanResults(runID: try db.run(named: run).id) { all[$0.exchange.id] = $0.results }
        return all
    }

    /// A result in one line, never its body (which may be 100 MiB).
    static func brief(_ result: SideResult?) -> String {
        guard let result else { return "no result" }
        if let error = result.error { return "\(error.rawValue): \(result.errorMessage ?? "")" }
        return "status \(result.response?.status ?? 0), \(result.response?.body.count ?? 0) body bytes"
    }

    /// How long after the write the side gave up, from the stored error message.
    static func gaveUpMs(_ result: SideResult?) -> Double? {
        guard let message = result?.errorMessage,
              let range = message.range(of: #"\(([0-9.]+) ms after the write\)"#, options: .regularExpression)
        else { return nil }
        return Double(message[range].dropFirst().split(separator: " ").first ?? "")
    }

    /// Runs `body` with a capture of `paths` (its database path), a baseline fixture bidder, and
    /// bad-upstream.py started with `arguments` as the candidate; stops both afterwards.
    static func withHostileCandidate(
        _ arguments: [String] = [], _ body: (_ db: String, _ baseline: RunningBidder, _ candidate: RunningBidder) throws -> Void
    ) async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/hostile.db"
            try capture(db)
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let candidate = try RunningBidder.badUpstream(arguments)
            defer { candidate.stop() }
            try body(db, baseline, candidate)
        }
    }

    @Test func everyFaultIsStoredWithItsKindWithinTheTimeoutAndMemoryStaysBounded() async throws {
        try await Self.withHostileCandidate { db, baseline, faulty in

            // A request may take the connect timeout plus the timeout; only /stall and /trickle use
            // the timeout, every other request ends at once; 10 s more for starting on a busy machine.
            // The target-down rule counts a side's failures in a row and an answer resets it: the
            // candidate's faults alternate with answers, so --max-failures 2 must not end the run.
            let usingTheTimeout = Self.faults.filter { $0.kind == .timeout }.count
            let bound = Double(usingTheTimeout * (Self.timeoutMs + Self.connectTimeoutMs)) / 1000 + 10
            var peakKiB = 0
            let started = Date()
            let replay = try Harness.run(Harness.shadowdiff, [
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", faulty.url, "--run", "hostile",
                "--concurrency", "1", "--timeout-ms", "\(Self.timeoutMs)", "--connect-timeout-ms", "\(Self.connectTimeoutMs)",
                "--max-body-bytes", "\(Self.maxBodyBytes)", "--max-failures", "2",
            ], timeout: bound) { pid in
                peakKiB = max(peakKiB, Harness.peakRSSKiB(of: pid) ?? 0)
            }
            let seconds = Date().timeIntervalSince(started)
            #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
            #expect(seconds < bound)
            #expect(peakKiB > 0 && peakKiB < Self.maxPeakRSSKiB, "peak RSS \(peakKiB) KiB")

            let results = try Self.results(db, run: "hostile")
            #expect(results.count == Self.paths.count)
            #expect(results.values.allSatisfy { $0.count == 2 }, "a result per side for every request")
            for (id, sides) in results {
                #expect(sides[.baseline]?.response?.status == 200 && sides[.baseline]?.error == nil, "baseline #\(id): \(Self.brief(sides[.baseline]))")
            }
            for (n, fault) in Self.faults.enumerated() {
                let result = results[Int64(2 * n + 3)]?[.candidate]
                #expect(result?.error == fault.kind, "\(fault.path): \(Self.brief(result))")
                #expect(result?.response?.status == nil, "no response is kept with an error")
                let ms = try #require(Self.gaveUpMs(result), "\(fault.path): \(result?.errorMessage ?? "no message")")
                if fault.kind == .timeout {
                    #expect(ms >= Double(Self.timeoutMs) && ms < Double(Self.timeoutMs + 500), "\(fault.path) gave up after \(ms) ms")
                } else {
                    #expect(ms < Double(Self.timeoutMs), "\(fault.path) gave up after \(ms) ms")
                }
            }

            // Every /ok is answered; it shares a connection with the /ok before it only when no fault came between.
            let okIDs = Self.paths.indices.filter { Self.paths[$0] == "/ok" }.map { Int64($0 + 1) }
            var connections: [String] = []
            for id in okIDs {
                let response = try #require(results[id]?[.candidate]?.response, "/ok #\(id): \(Self.brief(results[id]?[.candidate]))")
                #expect(response.status == 200 && response.body == Array(#"{"id":"bad-upstream","seatbid":[]}"#.utf8))
                connections.append(response.headers.first { $0.name == "X-Connection" }?.value ?? "")
            }
            #expect(connections[0] == connections[1] && !connections[0].isEmpty, "\(connections)")
            #expect(Set(connections.dropFirst()).count == okIDs.count - 1, "a fresh connection after every fault: \(connections)")
            let chunked = results[Int64(Self.paths.count)]?[.candidate]?.response
            #expect(chunked?.status == 200 && chunked?.body == Array(#"{"a":1}"#.utf8))

            let expectedErrors = Dictionary(grouping: Self.faults, by: \.kind.rawValue).sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value.count)" }.joined(separator: ", ")
            let diff = try Harness.shadowdiff("diff", "--db", db, "--run", "hostile")
            #expect(diff.status == 0 || diff.status == 1, "\(diff.stdout)\(diff.stderr)")
            let errorSection = diff.stdout.components(separatedBy: "\nerrors (").dropFirst().first?.components(separatedBy: "\n\n").first
            #expect(errorSection?.contains("\n  candidate  \(expectedErrors)\n") == true, "\(diff.stdout)")
            #expect(errorSection?.contains("\n  baseline   ") == false, "the baseline failed nothing: \(diff.stdout)")
        }
    }

    /// Lanes are made ready before the clock: a target that accepted the reachability check and
    /// then stopped listening ends the run before any request is sent, naming the target and the
    /// lanes that are not ready (exit 2), with nothing stored.
    @Test func aTargetThatStopsListeningAfterTheCheckEndsTheRunBeforeItStarts() async throws {
        // Its one connection is the replayer's reachability check; every later connect is refused.
        try await Self.withHostileCandidate(["--stop-listening-after", "1"]) { db, baseline, gone in
            let replay = try Harness.run(Harness.shadowdiff, [
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", gone.url, "--run", "refused",
                "--concurrency", "2", "--timeout-ms", "\(Self.timeoutMs)", "--connect-timeout-ms", "\(Self.connectTimeoutMs)",
            ], timeout: 20)
            #expect(replay.status == 2, "\(replay.stdout)\(replay.stderr)")
            #expect(replay.stderr.contains("\(gone.url): target unreachable: 2 of 2 connections could not be made ready before the run started"),
                    "\(replay.stderr)")
            #expect(replay.stderr.contains("connection refused"), "\(replay.stderr)")
            #expect(try Self.results(db, run: "refused").isEmpty)
            let status = try Harness.run("/usr/bin/sqlite3", [db, "SELECT status FROM runs WHERE name = 'refused'"]).stdout
            #expect(status == "failed\n")
        }
    }
}
