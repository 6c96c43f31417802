import ShadowCore
import Testing

@testable import ShadowCapture

/// HTTP/2 frames built by hand, header blocks as HPACK literals without indexing.
enum H2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let settings = frame(type: 4, flags: 0, stream: 0, [])

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        let head: [UInt8] = [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags]
        return head + Frames.be32(stream) + payload
    }

    static func block(_ fields: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (name, value) in fields {
            bytes += [0, UInt8(name.utf8.count)]
            bytes += Array(name.utf8)
            bytes.append(UInt8(value.utf8.count))
            bytes += Array(value.utf8)
        }
        return bytes
    }

    static func headers(_ stream: UInt32, _ fields: [(String, String)], end: Bool = false) -> [UInt8] {
        frame(type: 1, flags: 0x04 | (end ? 0x01 : 0), stream: stream, block(fields))
    }

    static func data(_ stream: UInt32, _ bytes: [UInt8], end: Bool = true) -> [UInt8] {
        frame(type: 0, flags: end ? 0x01 : 0, stream: stream, bytes)
    }

    static func reset(_ stream: UInt32, code: UInt32 = 8) -> [UInt8] {
        frame(type: 3, flags: 0, stream: stream, Frames.be32(code))
    }

    static func pushPromise(_ stream: UInt32, promised: UInt32, _ fields: [(String, String)]) -> [UInt8] {
        frame(type: 5, flags: 0x04, stream: stream, Frames.be32(promised) + block(fields))
    }

    static func get(_ path: String) -> [(String, String)] {
        [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", path)]
    }

    static let ok: [(String, String)] = [(":status", "200")]
}

/// The tracker on crafted HTTP/2 connections: how streams become exchanges and what is counted.
@Suite struct HTTP2TrackerTests {
    /// The server's SETTINGS come before the client's preface; one plain stream, one gRPC call with
    /// trailers, one stream reset by the server after its request ended.
    @Test func priorKnowledgeStreamsBecomeExchanges() throws {
        var h = TrackerHarness()
        h.send(H2.settings, fromClient: false)
        h.send(H2.preface + H2.settings, fromClient: true)
        h.send(H2.headers(1, [(":method", "POST"), (":path", "/v1/a"), ("content-type", "application/json")]), fromClient: true)
        h.send(H2.data(1, Array("{\"a\":1}".utf8)), fromClient: true)
        h.send(H2.headers(1, H2.ok + [("content-type", "application/json")]) + H2.data(1, Array("{}".utf8)), fromClient: false)
        let message: [UInt8] = [0, 0, 0, 0, 3, 8, 1, 16]
        h.send(H2.headers(3, [(":method", "POST"), (":path", "/pkg.Svc/Get"), ("content-type", "application/grpc")]), fromClient: true)
        h.send(H2.data(3, message), fromClient: true)
        h.send(H2.headers(3, H2.ok + [("content-type", "application/grpc")]) + H2.data(3, message, end: false), fromClient: false)
        h.send(H2.headers(3, [("grpc-status", "0"), ("grpc-message", "fine")], end: true), fromClient: false)
        h.send(H2.headers(5, H2.get("/reset"), end: true), fromClient: true)
        h.send(H2.reset(5), fromClient: false)
        h.finish()

        #expect(h.exchanges.map(\.wireProtocol) == [.h2, .grpc, .h2])
        #expect(h.exchanges.map(\.request.target) == ["/v1/a", "/pkg.Svc/Get", "/reset"])
        #expect(h.statuses == [200, 200, nil])
        let first = h.exchanges[0]
        #expect(first.request.method == "POST" && first.request.version == "HTTP/2")
        #expect(first.request.headers == [HeaderField("content-type", "application/json")])
        #expect(first.request.body == Array("{\"a\":1}".utf8) && first.response?.body == Array("{}".utf8))
        #expect(first.productionLatencyNs == 1_000, "request end (its DATA) to response end (the next segment)")
        let call = h.exchanges[1]
        #expect(call.request.body == message && call.response?.body == message)
        #expect(call.response?.headers.map(\.name) == ["content-type", "grpc-status", "grpc-message"])
        #expect(h.tally[.http2Connection] == 1 && h.tally.exchanges == 3 && h.tally.requests == 3 && h.tally.responses == 2)
        #expect(h.tally[.http2ResetStream] == 1 && h.tally[.requestWithoutResponse] == 1)
        #expect(h.tally[.unparsableResponse] == 0 && h.tally[.skippedBytes] == 0, "the early SETTINGS went to HTTP/2")
        #expect(h.tally.http2Counts["http2_settings"] == 2)
    }

    /// The 101's own segment carries the server's first frames; the GET is stream 1.
    @Test func anH2CUpgradeContinuesAsHTTP2() {
        var h = TrackerHarness()
        h.client("GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        h.send(
            Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8) + H2.settings
                + H2.headers(1, H2.ok) + H2.data(1, Array("hello".utf8)), fromClient: false)
        h.send(H2.preface + H2.settings, fromClient: true)
        h.finish()
        #expect(h.exchanges.count == 1)
        let exchange = h.exchanges.first
        #expect(exchange?.wireProtocol == .h2 && exchange?.request.version == "HTTP/1.1")
        #expect(exchange?.request.target == "/x" && exchange?.request.headers.first("Upgrade") == "h2c")
        #expect(exchange?.response?.status == 200 && exchange?.response?.body == Array("hello".utf8))
        #expect(h.tally[.http2Connection] == 1 && h.tally[.upgradedConnection] == 0)
        #expect(h.tally.requests == 1 && h.tally.responses == 2, "the 101 and the stream's answer")
    }

    /// No handshake, no preface: frames that fit together tell HTTP/2 apart, whatever the ports.
    @Test func aConnectionSeenMidwayIsRecognisedByItsFrames() {
        var h = TrackerHarness(handshake: false)
        h.send(H2.headers(7, H2.get("/late")), fromClient: true)
        h.send(H2.data(5, Array("tail of an older answer".utf8)), fromClient: false)
        h.send(H2.data(7, [], end: true), fromClient: true)
        h.send(H2.headers(7, H2.ok, end: true), fromClient: false)
        h.finish()
        #expect(h.exchanges.map(\.request.target) == ["/late"])
        #expect(h.statuses == [200])
        #expect(h.tally[.http2Connection] == 1 && h.tally[.skippedBytes] == 0)
        #expect(h.tally[.http2StartedBeforeCapture] == 1, "stream 5 was open before the capture")
    }

    @Test func pushedStreamsAreCountedNotStored() {
        var h = TrackerHarness()
        h.send(H2.preface + H2.settings + H2.headers(1, H2.get("/"), end: true), fromClient: true)
        h.send(H2.settings + H2.pushPromise(1, promised: 2, H2.get("/style.css")), fromClient: false)
        h.send(H2.headers(1, H2.ok) + H2.data(1, Array("<html>".utf8)), fromClient: false)
        h.send(H2.headers(2, H2.ok) + H2.data(2, Array("p{}".utf8)), fromClient: false)
        h.finish()
        #expect(h.exchanges.map(\.request.target) == ["/"])
        #expect(h.tally[.http2PushedStream] == 1 && h.tally.exchanges == 1)
    }

    /// gRPC with prior knowledge through a CONNECT tunnel: the tunnel's streams are decoded.
    @Test func http2InsideAConnectTunnelIsDecoded() {
        var h = TrackerHarness()
        h.client("CONNECT backend:50051 HTTP/1.1\r\nHost: backend:50051\r\n\r\n")
        h.server("HTTP/1.1 200 Connection established\r\n\r\n")
        h.send(H2.preface + H2.settings + H2.headers(1, [(":method", "POST"), (":path", "/a.B/C"), ("content-type", "application/grpc")]), fromClient: true)
        h.send(H2.data(1, [0, 0, 0, 0, 0]), fromClient: true)
        h.send(H2.settings + H2.headers(1, H2.ok + [("content-type", "application/grpc"), ("grpc-status", "5")], end: true), fromClient: false)
        h.finish()
        #expect(h.exchanges.map(\.wireProtocol) == [.http1, .grpc])
        #expect(h.exchanges.last?.response?.headers.first("grpc-status") == "5", "a trailers-only answer")
        #expect(h.tally[.upgradedConnection] == 1 && h.tally[.http2Connection] == 1)
    }

    /// A TLS tunnel stays ignored: no preface, no decoding, nothing counted as unparsable.
    @Test func aTunnelThatIsNotHTTP2IsIgnored() {
        var h = TrackerHarness()
        h.client("CONNECT example.com:443 HTTP/1.1\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\n\r\n")
        h.send([0x16, 0x03, 0x01, 0x02, 0x00, 1, 0, 1, 0xFC] + Array(repeating: 0, count: 40), fromClient: true)
        h.finish()
        #expect(h.exchanges.map(\.request.method) == ["CONNECT"])
        #expect(h.tally[.http2Connection] == 0 && h.tally[.upgradedConnection] == 1)
    }

    /// Bytes after the preface that are not frames: counted under the decoder's reasons, never fatal.
    @Test(arguments: [1 as UInt64, 2, 3, 4, 5, 6, 7, 8])
    func garbageAfterThePrefaceIsCounted(seed: UInt64) {
        var h = TrackerHarness()
        var random = SplitMix64(seed: seed)
        let noise = (0..<3000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        h.send(H2.preface + noise, fromClient: true)
        h.send(noise.reversed(), fromClient: false)
        h.finish()
        #expect(h.exchanges.isEmpty)
        #expect(h.tally[.http2Connection] == 1)
        #expect(DropReason.allCases.contains { $0.rawValue.hasPrefix("http2_") && $0 != .http2Connection && h.tally[$0] > 0 })
        #expect(h.tally.http2Counts.values.keys.allSatisfy { CaptureTally.http2Informational.contains($0) })
    }
}
