import Foundation
import Testing

/// A real tcpdump on `lo` records a real curl posting to a fixture bidder; the import finds every exchange.
@Suite struct LiveCaptureTests {
    @Test func tcpdumpOnLoopbackThenImportFindsEveryExchange() async throws {
        let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let tcpdumpPath = try #require(tcpdump, "tcpdump is not installed; `make test` installs it")
        let requests = try FileManager.default.contentsOfDirectory(atPath: Harness.root + "/fixtures/requests")
            .filter { $0.hasSuffix(".json") }.sorted().map { Harness.root + "/fixtures/requests/" + $0 }
        try #require(requests.count >= 10)
        try await Harness.withTemporaryDirectory { dir in
            let bidder = try RunningBidder(build: "baseline")
            defer { bidder.stop() }
            let pcap = dir + "/live.pcap"
            let capture = Harness.process(tcpdumpPath, ["-i", "lo", "--immediate-mode", "-B", "16384", "-U", "-n", "-w", pcap, "tcp port \(bidder.port)"])
            _ = try Harness.start(capture, untilStderrContains: "listening on")
            // Three keep-alive connections, each posting every request once.
            var sent = 0
            for _ in 0..<3 {
                var args = ["-s", "-o", "/dev/null", "--http1.1"]
                for (i, file) in requests.enumerated() {
                    if i > 0 { args.append("--next") }
                    args += ["-o", "/dev/null", "-H", "Content-Type: application/json", "--data-binary", "@" + file,
                             bidder.url + "/openrtb2/auction"]
                }
                let curl = try Harness.run("/usr/bin/curl", args)
                #expect(curl.status == 0)
                sent += requests.count
            }
            // tcpdump (-U) writes each packet as it reads it; on a loaded machine it may read the last
            // responses late, and an interrupt would drop what it has not read. Stop it once the file
            // has stopped growing for 500 ms (at most 10 s).
            let waitedSince = Date()
            var size = -1, stableSince = Date()
            while Date().timeIntervalSince(stableSince) < 0.5 && Date().timeIntervalSince(waitedSince) < 10 {
                try await Task.sleep(for: .milliseconds(50))
                let now = (try? FileManager.default.attributesOfItem(atPath: pcap)[.size] as? Int) ?? -1
                if now != size { (size, stableSince) = (now, Date()) }
            }
            capture.interrupt()
            if !Harness.reap(capture, within: 10) { Issue.record("tcpdump did not stop on SIGINT") }

            let db = dir + "/live.db"
            let out = try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db)
            #expect(out.status == 0, "\(out.stderr)")
            let stored = try #require(Self.count(after: "exchanges stored ", in: out.stdout), "\(out.stdout)")
            if stored == sent {
                let rows = try Harness.run("/usr/bin/sqlite3", [
                    db, "SELECT count(*), count(prod_status), count(DISTINCT connection), min(prod_latency_ns) > 0 FROM exchanges",
                ])
                #expect(rows.stdout == "\(sent)|\(sent)|3|1\n")
            } else {
                // tcpdump itself lost a packet (seen once in a loaded CI run: one request segment
                // missing, its response kept). Then nothing may be lost silently: the import says
                // where the stream has a hole, and each exchange it could not store is counted.
                let gaps = Self.count(after: "gap ", in: out.stdout) ?? 0
                let orphans = Self.count(after: "response_without_request ", in: out.stdout) ?? 0
                #expect(gaps > 0 && stored + orphans + gaps >= sent, "capture lost \(sent - stored) of \(sent) silently: \(out.stdout)")
                print("note: tcpdump lost packets; \(sent - stored) of \(sent) exchanges are counted as drops: \(out.stdout)")
            }
        }
    }

    /// The number after `label` in the capture's summary (`exchanges stored 78`, `gap   1`).
    static func count(after label: String, in text: String) -> Int? {
        guard let range = text.range(of: label) else { return nil }
        return Int(text[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber })
    }
}
