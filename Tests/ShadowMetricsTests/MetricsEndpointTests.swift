import Foundation
import NIOCore
import NIOPosix
import Prometheus
import ShadowMetrics
import Testing

/// What curl saw: the body and the status of the last response, and how many connections it opened.
private struct Fetched {
    let body: String
    let status: Int
    let connects: Int
}

/// Fetches `paths` from 127.0.0.1:`port` with one curl process (which reuses a keep-alive connection).
private func curl(port: Int, _ paths: [String], options: [String] = []) throws -> Fetched {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "--max-time", "10", "-w", "\n%{http_code} %{num_connects}"] + options
        + paths.map { "http://127.0.0.1:\(port)\($0)" }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
    let numbers = lastLine.split(separator: " ").compactMap { Int($0) }
    return Fetched(body: text, status: numbers.first ?? 0, connects: numbers.dropFirst().first ?? -1)
}

/// Runs `body` with an endpoint on 127.0.0.1 (any free port) over `metrics`, stopping everything after.
private func withEndpoint(
    _ metrics: ReplayMetrics, _ body: (MetricsEndpoint) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var failure: (any Error)?
    do {
        let endpoint = try await MetricsEndpoint.start(
            host: "127.0.0.1", port: 0, registry: metrics.registry, group: group)
        do { try await body(endpoint) } catch { failure = error }
        await endpoint.stop()
    } catch {
        failure = error
    }
    try await group.shutdownGracefully()
    if let failure { throw failure }
}

@Test func scrapeShowsRecordedResults() async throws {
    let metrics = ReplayMetrics()
    metrics.record(side: "baseline", status: 200, error: nil, latencyNs: 2_000_000, serviceNs: 1_500_000)
    metrics.record(side: "baseline", status: 204, error: nil, latencyNs: 3_000_000, serviceNs: 2_000_000)
    metrics.record(side: "candidate", status: 503, error: nil, latencyNs: 4_000_000, serviceNs: 3_000_000)
    metrics.record(side: "candidate", status: nil, error: "timeout", latencyNs: 50_000_000, serviceNs: nil)
    metrics.recordSendLag(ns: 200_000, late: false)
    metrics.recordSendLag(ns: 3_000_000, late: true)
    metrics.update(done: 2, total: 10, inFlight: 3)

    try await withEndpoint(metrics) { endpoint in
        let fetched = try curl(port: endpoint.port, ["/metrics"])
        #expect(fetched.status == 200)
        let lines = Set(fetched.body.split(separator: "\n").map(String.init))
        for expected in [
            #"shadowdiff_replay_requests_total{side="baseline",outcome="2xx"} 2"#,
            #"shadowdiff_replay_requests_total{side="candidate",outcome="5xx"} 1"#,
            #"shadowdiff_replay_requests_total{side="candidate",outcome="timeout"} 1"#,
            #"shadowdiff_replay_latency_seconds_count{side="baseline"} 2"#,
            #"shadowdiff_replay_latency_seconds_count{side="candidate"} 2"#,
            #"shadowdiff_replay_service_seconds_count{side="candidate"} 1"#,
            #"shadowdiff_replay_latency_seconds_bucket{side="baseline",le="0.0025"} 1"#,
            #"shadowdiff_replay_latency_seconds_bucket{side="baseline",le="0.005"} 2"#,
            "# TYPE shadowdiff_replay_latency_seconds histogram",
            "shadowdiff_replay_send_lag_seconds_count 2",
            "shadowdiff_replay_late_total 1",
            "shadowdiff_replay_done 2.0",
            "shadowdiff_replay_planned 10.0",
            "shadowdiff_replay_in_flight 3.0",
        ] {
            let found = lines.contains(expected)  // not in #expect: it would print every line
            #expect(found, "missing: \(expected)")
        }
    }
}

@Test func keepAliveAndErrorStatuses() async throws {
    try await withEndpoint(ReplayMetrics()) { endpoint in
        let twice = try curl(port: endpoint.port, ["/metrics", "/metrics?x=1"])
        #expect(twice.status == 200)
        #expect(twice.connects == 0, "the second request should reuse the first connection")
        #expect(try curl(port: endpoint.port, ["/other"]).status == 404)
        #expect(try curl(port: endpoint.port, ["/metrics"], options: ["-X", "POST"]).status == 405)
        let head = try curl(port: endpoint.port, ["/metrics"], options: ["-I"])
        #expect(head.status == 200)
        #expect(head.body.lowercased().contains("content-type: text/plain; version=0.0.4; charset=utf-8"))
        #expect(!head.body.contains("# TYPE"))
    }
}

@Test func stopClosesIdleKeepAliveConnections() async throws {
    try await withEndpoint(ReplayMetrics()) { endpoint in
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: endpoint.port).get()
        await endpoint.stop()
        try await client.closeFuture.get()  // the server closed it (or refused it, when stop came first)
    }
}

@Test func secondStartOnTheSamePortFails() async throws {
    try await withEndpoint(ReplayMetrics()) { endpoint in
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let thrown = await #expect(throws: MetricsEndpointError.self) {
            let second = try await MetricsEndpoint.start(
                host: "127.0.0.1", port: endpoint.port, registry: PrometheusCollectorRegistry(), group: group)
            await second.stop()
        }
        try await group.shutdownGracefully()
        guard case .cannotListen(let address, _) = thrown else {
            Issue.record("expected cannotListen, got \(String(describing: thrown))")
            return
        }
        #expect(address == "127.0.0.1:\(endpoint.port)")
        #expect(thrown?.description.hasPrefix("--metrics 127.0.0.1:\(endpoint.port): cannot listen: ") == true)
    }
}

@Test func outcomesAreStatusClassesOrErrorKinds() {
    let metrics = ReplayMetrics()
    for status in [101, 302, 404, 700] {
        metrics.record(side: "secondary", status: status, error: nil, latencyNs: nil, serviceNs: nil)
    }
    metrics.record(side: "secondary", status: nil, error: nil, latencyNs: -5, serviceNs: nil)
    metrics.record(side: "secondary", status: nil, error: "connection_refused", latencyNs: nil, serviceNs: nil)
    let lines = Set(metrics.registry.emitToString().split(separator: "\n").map(String.init))
    for (outcome, count) in [("1xx", 1), ("3xx", 1), ("4xx", 1), ("unknown", 2), ("connection_refused", 1)] {
        #expect(lines.contains(#"shadowdiff_replay_requests_total{side="secondary",outcome="\#(outcome)"} \#(count)"#))
    }
    #expect(lines.contains(#"shadowdiff_replay_latency_seconds_bucket{side="secondary",le="0.0001"} 1"#))
    #expect(lines.contains(#"shadowdiff_replay_latency_seconds_sum{side="secondary"} 0.0"#))
}
