import ShadowCore
import Testing

@testable import ShadowCapture

/// Drives an `HTTPConnectionTracker` with synthetic segments: SYN handshake, then text each way.
struct TrackerHarness {
    var tracker: HTTPConnectionTracker
    var tally = CaptureTally()
    var exchanges: [CapturedExchange] = []
    let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000)
    let server = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
    var clientSeq: UInt32 = 100
    var serverSeq: UInt32 = 900
    var now: Int64 = 1_000

    init(limits: CaptureLimits = .init(), handshake: Bool = true) {
        tracker = HTTPConnectionTracker(id: 1, limits: limits, nowNs: 0)
        if handshake {
            segment(fromClient: true, flags: .syn, [])
            segment(fromClient: false, flags: [.syn, .ack], [])
            clientSeq += 1
            serverSeq += 1
        }
    }

    mutating func segment(fromClient: Bool, flags: TCPFlags, _ payload: [UInt8], seq: UInt32? = nil) {
        now += 1_000
        let s = TCPSegment(
            source: fromClient ? client : server, destination: fromClient ? server : client,
            sequence: seq ?? (fromClient ? clientSeq : serverSeq), acknowledgment: fromClient ? serverSeq : clientSeq,
            flags: flags, payload: 0..<payload.count, timestampNs: now)
        payload.withUnsafeBytes { tracker.handle(s, payload: $0, tally: &tally, outbox: &exchanges) }
    }

    mutating func client(_ text: String) { send(Array(text.utf8), fromClient: true) }
    mutating func server(_ text: String) { send(Array(text.utf8), fromClient: false) }

    mutating func send(_ bytes: [UInt8], fromClient: Bool) {
        segment(fromClient: fromClient, flags: [.ack, .psh], bytes)
        if fromClient { clientSeq &+= UInt32(bytes.count) } else { serverSeq &+= UInt32(bytes.count) }
    }

    /// Sends `text` one byte per segment.
    mutating func trickle(_ text: String, fromClient: Bool) {
        for b in text.utf8 { send([b], fromClient: fromClient) }
    }

    mutating func finish() {
        tracker.close(tally: &tally, outbox: &exchanges)
    }

    var statuses: [Int?] { exchanges.map { $0.response?.status } }
    var bodies: [String] { exchanges.map { String(decoding: $0.request.body, as: UTF8.self) } }
}

@Suite struct HTTP1ParserTests {
    @Test func contentLengthRequestAndResponse() {
        var h = TrackerHarness()
        h.client("POST /openrtb2/auction?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        #expect(h.exchanges.count == 1)
        let e = h.exchanges[0]
        #expect(e.request.method == "POST" && e.request.target == "/openrtb2/auction?x=1" && e.request.version == "HTTP/1.1")
        #expect(e.request.headers == [HeaderField("Host", "a"), HeaderField("Content-Type", "application/json"), HeaderField("Content-Length", "7")])
        #expect(String(decoding: e.request.body, as: UTF8.self) == "{\"a\":1}")
        #expect(e.response?.status == 200 && e.response?.body == Array("{}".utf8))
        #expect(e.client == "10.0.0.1:40000" && e.server == "10.0.0.2:80")
        #expect(e.productionLatencyNs == 1_000)
        #expect(h.tally.requests == 1 && h.tally.responses == 1 && h.tally.exchanges == 1)
    }

    @Test func chunkedBodiesWithExtensionsAndTrailers() {
        var h = TrackerHarness()
        h.client("POST /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n")
        #expect(h.bodies == ["hello world"])
        #expect(h.exchanges.first?.request.headers.first("x-checksum") == "abc")
        #expect(h.exchanges.first?.response?.body == Array("0123456789".utf8))
    }

    @Test func keepAliveAndPipelining() {
        var h = TrackerHarness()
        h.client("GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        h.server("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        #expect(h.exchanges.map(\.request.target) == ["/a", "/b", "/c"])
        #expect(h.statuses == [200, 200, 201])
        #expect(h.exchanges.map { $0.response?.body.count } == [1, 0, 2], "the HEAD response has no body despite Content-Length")
    }

    @Test func expect100ContinueSkipsTheInterimResponse() {
        var h = TrackerHarness()
        h.client("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        h.server("HTTP/1.1 100 Continue\r\n\r\n")
        h.client("body")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(h.bodies == ["body"])
        #expect(h.statuses == [200])
        #expect(h.tally.interimResponses == 1 && h.tally.responses == 1)
        #expect(h.tally[.responseWithoutRequest] == 0)
    }

    @Test func bodilessResponses() {
        var h = TrackerHarness()
        h.client("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n")
        h.server("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        #expect(h.statuses == [204, 304, 200])
        #expect(h.exchanges.last?.response?.body == Array("hi".utf8))
    }

    @Test func closeDelimitedResponseAndHTTP10() {
        var h = TrackerHarness()
        h.client("GET /old HTTP/1.0\r\n\r\n")
        h.server("HTTP/1.0 200 OK\r\n\r\nall of ")
        h.server("this")
        #expect(h.exchanges.isEmpty)
        h.segment(fromClient: false, flags: [.fin, .ack], [])
        h.segment(fromClient: true, flags: [.fin, .ack], [])
        #expect(h.exchanges.count == 1)
        #expect(h.exchanges.first?.request.version == "HTTP/1.0")
        #expect(h.exchanges.first?.response?.body == Array("all of this".utf8))
        #expect(h.exchanges.first?.productionLatencyNs == 2_000, "ends at the last body byte, not at the FIN")
    }

    @Test func upgradeStopsParsing() {
        var h = TrackerHarness()
        h.client("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        h.client("\u{81}\u{85}early frame bytes")
        h.server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{02}hi")
        h.client("GET /not-http HTTP/1.1\r\n\r\n")
        h.finish()
        #expect(h.statuses == [101])
        #expect(h.tally[.upgradedConnection] == 1)
        #expect(h.tally.requests == 1 && h.tally[.unparsableRequest] == 0)
    }

    @Test func refusedUpgradeResumesParsing() {
        var h = TrackerHarness()
        h.client("GET /a HTTP/1.1\r\nUpgrade: h2c\r\n\r\n")
        h.client("GET /b HTTP/1.1\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.finish()
        #expect(h.exchanges.map(\.request.target) == ["/a", "/b"])
        #expect(h.statuses == [200, 200])
        #expect(h.tally[.upgradedConnection] == 0)
    }

    @Test func connectTunnels() {
        var h = TrackerHarness()
        h.client("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        h.server("HTTP/1.1 200 Connection established\r\n\r\n")
        h.send([0x16, 0x03, 0x01, 0x00, 0x10], fromClient: true)
        h.send([0x16, 0x03, 0x03, 0x00, 0x10], fromClient: false)
        h.finish()
        #expect(h.exchanges.map(\.request.method) == ["CONNECT"])
        #expect(h.tally[.upgradedConnection] == 1)
        #expect(h.tally[.unparsableRequest] == 0 && h.tally[.unparsableResponse] == 0)
    }

    @Test func http2PrefaceIsCountedAndIgnored() {
        var h = TrackerHarness()
        h.client("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u{0}\u{0}\u{0}\u{4}")
        h.send([0, 0, 0, 4, 0, 0, 0, 0, 0], fromClient: false)
        h.finish()
        #expect(h.exchanges.isEmpty)
        #expect(h.tally[.http2Connection] == 1)
    }

    @Test func requestWithoutResponseIsStillEmitted() {
        var h = TrackerHarness()
        h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.finish()
        #expect(h.statuses == [200, nil])
        #expect(h.tally[.requestWithoutResponse] == 1 && h.tally.exchanges == 2)
        #expect(h.exchanges.last?.productionLatencyNs == nil)
    }

    @Test func responseWithoutRequestIsCounted() {
        var h = TrackerHarness()
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.finish()
        #expect(h.exchanges.isEmpty)
        #expect(h.tally[.responseWithoutRequest] == 1)
    }

    @Test func truncatedMessagesAreCounted() {
        var h = TrackerHarness()
        h.client("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        h.server("HTTP/1.1 200 OK\r\nContent-Le")
        h.finish()
        #expect(h.exchanges.isEmpty)
        #expect(h.tally[.truncatedMessage] == 2)
    }

    @Test func midstreamCaptureResynchronises() {
        var h = TrackerHarness(handshake: false)
        h.client("ody of a request cut by the capture start\r\nmore\r\nPOST /next HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
        h.server("tail of an older response\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.finish()
        #expect(h.exchanges.map(\.request.target) == ["/next"])
        #expect(h.statuses == [200])
        #expect(h.tally[.skippedBytes] == 49 + 27)
        #expect(h.tally[.unparsableRequest] == 0)
    }

    @Test func gapInsideABodyDropsOnlyThatMessage() {
        var h = TrackerHarness()
        h.client("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nab")
        h.clientSeq &+= 5
        h.client("hij")
        h.client("GET /b HTTP/1.1\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB")
        h.finish()
        #expect(h.exchanges.map(\.request.target) == ["/b"], "the request with a hole in its body is not stored")
        #expect(h.exchanges.first?.response?.body == Array("B".utf8))
        #expect(h.tally[.gap] == 2, "one hole, one message cut by it")
        #expect(h.tally[.responseWithoutRequest] == 1)
    }

    @Test func oversizedBodiesAreFramedAndSkipped() {
        var h = TrackerHarness(limits: CaptureLimits(maxBodyBytes: 4))
        h.client("POST /big HTTP/1.1\r\nContent-Length: 8\r\n\r\n12345678POST /small HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.finish()
        #expect(h.exchanges.map(\.request.target) == ["/small"])
        #expect(h.tally[.oversizedBody] == 1 && h.tally[.responseWithoutRequest] == 1)
    }

    @Test func oneByteSegmentsParseTheSame() {
        var h = TrackerHarness()
        h.trickle("POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /u HTTP/1.1\r\n\r\n", fromClient: true)
        h.trickle("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyzHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n!\r\n0\r\n\r\n", fromClient: false)
        #expect(h.exchanges.map(\.request.target) == ["/t", "/u"])
        #expect(h.bodies == ["abc", ""])
        #expect(h.statuses == [200, 404])
        #expect(h.tally.drops.isEmpty)
    }

    @Test func obsFoldAndOddWhitespace() {
        var h = TrackerHarness()
        h.client("GET / HTTP/1.1\nX-Long: a\r\n  b\r\nHost:example\r\n\r\n")
        h.server("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        #expect(h.exchanges.first?.request.headers == [HeaderField("X-Long", "a b"), HeaderField("Host", "example")])
        #expect(h.statuses == [200], "a status line without a reason phrase is valid")
    }

    @Test func invalidFramingIsUnparsable() {
        var h = TrackerHarness()
        h.client("POST /a HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello")
        h.client("GET /b HTTP/1.1\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.finish()
        #expect(h.tally[.unparsableRequest] == 1)
        #expect(h.exchanges.map(\.request.target) == ["/b"])
    }

    @Test func garbageNeverCrashes() {
        var rng = SplitMix64(seed: 42)
        let seeds = [
            "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "HTTP/1.1 101 Switching\r\n\r\n", "\r\n\r\n\n\n",
        ].map { Array($0.utf8) }
        for round in 0..<400 {
            var h = TrackerHarness(limits: CaptureLimits(maxBodyBytes: 64, maxBufferedBytesPerFlow: 256, maxHeaderBytes: 300))
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                var bytes = seeds.randomElement(using: &rng)!
                if round % 2 == 0 {
                    for _ in 0..<Int.random(in: 0...8, using: &rng) {
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                } else {
                    bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                }
                let fromClient = Bool.random(using: &rng)
                if Int.random(in: 0..<10, using: &rng) == 0 {
                    let seq = UInt32.random(in: 0...UInt32.max, using: &rng)
                    h.segment(fromClient: fromClient, flags: .ack, bytes, seq: seq)
                } else {
                    h.send(bytes, fromClient: fromClient)
                }
            }
            h.finish()
            #expect(h.tally.exchanges == Int64(h.exchanges.count))
        }
    }
}
