import Foundation
import ShadowCore
import Testing

@testable import ShadowCapture

/// Crafted captures for the bounds: large bodies, many outstanding requests, the flow table, idle flows.
@Suite struct CaptureLimitsTests {
    /// Sends `bytes` from one side in segments of at most `segment` bytes.
    static func stream(_ c: inout Conversation, _ bytes: [UInt8], fromClient: Bool, segment: Int = 65_000) {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + segment)
            c.packet(fromClient: fromClient, flags: .ack, payload: Array(bytes[offset..<end]), dt: 10_000)
            offset = end
        }
    }

    @Test func a64MiBBodyIsStoredWhole() throws {
        let size = 64 << 20
        var body = [UInt8](repeating: 0, count: size)
        var rng = SplitMix64(seed: 64)
        for i in stride(from: 0, to: size, by: 8) {
            withUnsafeBytes(of: rng.next()) { word in
                for j in 0..<8 { body[i + j] = word[j] }
            }
        }
        var c = Conversation()
        c.handshake()
        Self.stream(&c, Array("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n".utf8) + body, fromClient: true)
        c.send("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", fromClient: false)
        c.close()
        let (summary, exchanges) = try importFrames(c.pcap())
        let exchange = try #require(exchanges.first)
        #expect(exchanges.count == 1)
        #expect(exchange.request.body.count == size)
        #expect(exchange.request.body == body)
        #expect(exchange.response?.status == 201)
        #expect(summary.counters.drops.isEmpty)
    }

    @Test func aBodyOverTheLimitIsCountedAndTheNextRequestStillParses() throws {
        var c = Conversation()
        c.handshake()
        Self.stream(&c, Array("POST /big HTTP/1.1\r\nContent-Length: 300000\r\n\r\n".utf8) + [UInt8](repeating: 65, count: 300_000), fromClient: true)
        c.send("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n", fromClient: false)
        c.send("GET /after HTTP/1.1\r\n\r\n", fromClient: true)
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", fromClient: false)
        c.close()
        let (summary, exchanges) = try importFrames(c.pcap(), limits: CaptureLimits(maxBodyBytes: 100_000))
        #expect(summary.counters[.oversizedBody] == 1)
        #expect(exchanges.map(\.request.target) == ["/after"])
        #expect(exchanges.first?.response?.status == 200)
    }

    @Test func twoHundredPipelinedRequestsInOneSegmentPairInOrder() throws {
        var c = Conversation()
        c.handshake()
        let requests = (0..<200).map { "GET /p/\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
        c.send(requests, fromClient: true)
        let responses = (0..<200).map { "HTTP/1.1 200 OK\r\nContent-Length: \(String($0).count)\r\n\r\n\($0)" }.joined()
        Self.stream(&c, Array(responses.utf8), fromClient: false, segment: 1000)
        c.close()
        let (summary, exchanges) = try importFrames(c.pcap())
        #expect(exchanges.count == 200)
        for (i, exchange) in exchanges.enumerated() {
            #expect(exchange.request.target == "/p/\(i)")
            #expect(exchange.response?.body == Array(String(i).utf8))
        }
        #expect(summary.counters.drops.isEmpty)
    }

    @Test func aLostSegmentCostsOnlyTheMessageItCut() throws {
        var c = Conversation()
        c.handshake()
        c.send("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", fromClient: true)
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", fromClient: false)
        // The next request's body segment is lost: the server's ACK covers it anyway.
        c.send("POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n", fromClient: true)
        c.clientSeq &+= 10
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", fromClient: false)
        c.send("POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", fromClient: true)
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", fromClient: false)
        c.close()
        let (summary, exchanges) = try importFrames(c.pcap())
        #expect(exchanges.map(\.request.target) == ["/a", "/c"])
        #expect(exchanges.map { $0.response?.body ?? [] } == [Array("a".utf8), Array("c".utf8)])
        #expect(summary.counters[.gap] >= 1)
    }

    /// Four connections one after another, each with one GET and its answer; closed by FIN when `closed`.
    static func fourConnections(closed: Bool) -> PcapWriter {
        var writer = PcapWriter()
        var now: Int64 = 1_000_000_000
        for i in 0..<4 {
            var c = Conversation()
            c.clientPort = UInt16(41_000 + i)
            c.now = now
            c.handshake()
            c.send("GET /\(i) HTTP/1.1\r\n\r\n", fromClient: true)
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", fromClient: false)
            if closed { c.close() }
            for (frame, ns) in c.frames { writer.add(frame, ns: ns) }
            now = c.now
        }
        return writer
    }

    @Test func connectionsPastMaxFlowsAreRefusedAndCounted() throws {
        let writer = Self.fourConnections(closed: false)
        let (summary, exchanges) = try importFrames(writer, limits: CaptureLimits(maxFlows: 2))
        #expect(exchanges.map(\.request.target) == ["/0", "/1"])
        #expect(summary.counters["tcp_connections"] == 2)
        #expect(summary.counters[.flowTableFull] == 10, "5 packets of each of the 2 refused connections")
    }

    @Test func closedConnectionsMakeRoomInAFullTable() throws {
        let writer = Self.fourConnections(closed: true)
        let (summary, exchanges) = try importFrames(writer, limits: CaptureLimits(maxFlows: 1))
        #expect(exchanges.count == 4)
        #expect(summary.counters[.flowTableFull] == 0)
    }

    @Test func idleConnectionsAreEvictedWithTheirWaitingRequest() throws {
        var writer = PcapWriter()
        var idle = Conversation()
        idle.clientPort = 43_000
        idle.now = 1_000_000_000
        idle.handshake()
        idle.send("GET /never-answered HTTP/1.1\r\n\r\n", fromClient: true)
        for (frame, ns) in idle.frames { writer.add(frame, ns: ns) }
        // Another connection keeps packets coming for 30 s of capture time.
        var busy = Conversation()
        busy.clientPort = 43_001
        busy.now = idle.now
        busy.handshake()
        for i in 0..<30 {
            busy.send("GET /b/\(i) HTTP/1.1\r\n\r\n", fromClient: true, dt: 1_000_000_000)
            busy.send("HTTP/1.1 204 No Content\r\n\r\n", fromClient: false)
        }
        for (frame, ns) in busy.frames { writer.add(frame, ns: ns) }
        let (summary, exchanges) = try importFrames(writer, limits: CaptureLimits(idleFlowTimeoutSeconds: 5))
        let evicted = try #require(exchanges.firstIndex { $0.request.target == "/never-answered" })
        #expect(exchanges[evicted].response == nil)
        #expect(evicted < 20, "emitted when evicted, not at the end of the capture")
        #expect(summary.counters["evicted_connections"] == 1)
        #expect(summary.counters[.requestWithoutResponse] == 1)
        #expect(exchanges.count == 31)
    }
}
