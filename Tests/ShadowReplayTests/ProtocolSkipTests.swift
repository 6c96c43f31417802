import Foundation
import ShadowCore
import ShadowStore
import Testing

@testable import ShadowReplay

/// Replay sends HTTP/1.1 only for now: an h2 or gRPC exchange is skipped and counted, never sent
/// as HTTP/1.1.
@Suite(.serialized) struct ProtocolSkipTests {
    @Test func exchangesOfOtherProtocolsAreSkippedAndCounted() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { port in
                let db = try ShadowDatabase(path: dir + "/replay.db", mode: .createIfMissing)
                let capture = try db.beginCapture(sourceKind: "pcap", source: "mixed.pcap", filter: nil)
                let writer = ExchangeWriter(database: db, captureID: capture)
                let protocols: [WireProtocol] = [.http1, .h2, .grpc, .http1, .grpc]
                for (n, wireProtocol) in protocols.enumerated() {
                    let request = RecordedRequest(
                        method: "POST", target: "/\(wireProtocol.rawValue)/\(n)", version: wireProtocol == .http1 ? "HTTP/1.1" : "HTTP/2",
                        headers: [HeaderField("content-type", wireProtocol == .grpc ? "application/grpc" : "application/json")],
                        body: [0, 0, 0, 0, 0])
                    try writer.append(CapturedExchange(
                        captureTimeNs: Int64(n) * 1_000_000, connection: 1, client: "10.0.0.1:5000", server: "10.0.0.2:80",
                        wireProtocol: wireProtocol, request: request, response: nil, productionLatencyNs: nil))
                }
                try writer.flush()
                let config = ReplayConfiguration(
                    run: "p", baseline: try target(.baseline, port), candidate: try target(.candidate, port), timing: .concurrency(2))
                let outcome = try await Replayer(database: db, configuration: config).run(stop: StopFlag(), observer: nil)
                #expect(outcome.run.status == "complete")
                #expect(outcome.run.counters["exchanges"] == 2)
                #expect(outcome.run.counters["skipped_protocol_h2"] == 1)
                #expect(outcome.run.counters["skipped_protocol_grpc"] == 2)
                let rows = try storedResults(db, run: "p")
                #expect(Set(rows.map(\.exchangeID)) == [1, 4], "only the HTTP/1.1 exchanges were sent")
                #expect(rows.allSatisfy { $0.status == 200 })
            }
        }
    }
}
