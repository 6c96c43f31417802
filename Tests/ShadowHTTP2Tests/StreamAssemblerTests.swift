import NIOCore
import ShadowCore
import Testing
@testable import ShadowHTTP2

/// A client and a server writing one connection's frames, each with its own HPACK encoder.
struct Peers {
    var client = Encoder()
    var server = Encoder()
    var assembler: HTTP2StreamAssembler
    var clock: Int64 = 1_000

    init(start: HTTP2StreamAssembler.Start = .connectionStart, limits: HTTP2Limits = HTTP2Limits()) {
        assembler = HTTP2StreamAssembler(start: start, limits: limits)
        if start == .connectionStart {
            send(.client, HTTP2Sniffer.clientPreface + Wire.settings([]))
            send(.server, Wire.settings([(3, 100)]))
        }
    }

    mutating func send(_ direction: HTTP2Direction, _ bytes: [UInt8]) {
        clock += 1_000
        assembler.ingest(bytes, from: direction, timestampNs: clock)
    }

    mutating func request(_ stream: UInt32, path: String, endStream: Bool = true, extra: [(String, String)] = []) {
        let block = client.block([(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "svc")] + extra)
        send(.client, Wire.headers(stream: stream, endStream: endStream, block))
    }

    mutating func respond(_ stream: UInt32, status: String = "200", endStream: Bool = false, extra: [(String, String)] = []) {
        send(.server, Wire.headers(stream: stream, endStream: endStream, server.block([(":status", status)] + extra)))
    }

    mutating func trailers(_ direction: HTTP2Direction, _ stream: UInt32, _ fields: [(String, String)]) {
        let block = direction == .client ? client.block(fields) : server.block(fields)
        send(direction, Wire.headers(stream: stream, endStream: true, block))
    }
}

@Suite struct StreamAssemblerTests {
    @Test func aRequestAndResponseWithBodiesTrailersAndTimes() throws {
        var peers = Peers()
        peers.request(1, path: "/bid", endStream: false)
        peers.send(.client, Wire.data(stream: 1, Array("{\"id\":".utf8)))
        peers.send(.client, Wire.data(stream: 1, endStream: true, Array("1}".utf8)))
        peers.respond(1, status: "100")
        peers.respond(1, extra: [("content-type", "application/json")])
        peers.send(.server, Wire.data(stream: 1, Array("{\"bid\":true}".utf8)))
        peers.trailers(.server, 1, [("x-trailer", "t")])
        let exchanges = peers.assembler.takeExchanges()
        #expect(exchanges.count == 1)
        let exchange = try #require(exchanges.first)
        #expect(exchange.method == "POST")
        #expect(exchange.path == "/bid")
        #expect(exchange.status == 200)
        #expect(exchange.request.body == Array("{\"id\":1}".utf8))
        #expect(exchange.request.bodyMarks.map(\.offset) == [0, 6])
        #expect(exchange.response.body == Array("{\"bid\":true}".utf8))
        #expect(exchange.response.informational == 1)
        #expect(exchange.response.trailers.pairs == ["x-trailer: t"])
        #expect(exchange.outcome == .complete)
        #expect(exchange.requestEndNs == 6_000)
        #expect(exchange.firstResponseByteNs == 7_000)
        #expect(exchange.responseEndNs == 10_000)
        #expect(exchange.latencyNs == 4_000)
        #expect(exchange.timeToFirstByteNs == 1_000)
        #expect(peers.assembler.sawPreface)
        #expect(peers.assembler.counters["http2_streams"] == 1)
    }

    @Test func resetGoAwayAndUnfinishedStreamsSayHowTheyEnded() {
        var peers = Peers()
        peers.request(1, path: "/a")
        peers.request(3, path: "/b")
        peers.request(5, path: "/c")
        peers.request(7, path: "/d")
        peers.send(.server, Wire.frame(.rstStream, stream: 1, [0, 0, 0, 8]))
        peers.send(.server, Wire.frame(.goAway, [0, 0, 0, 5, 0, 0, 0, 0]))
        var outcomes = peers.assembler.takeExchanges().map { ($0.streamID, $0.outcome) }
        outcomes += peers.assembler.finish().map { ($0.streamID, $0.outcome) }
        #expect(outcomes.map(\.0) == [1, 7, 3, 5])
        #expect(outcomes.map(\.1) == [.reset(errorCode: 8, by: .server), .goAway(errorCode: 0), .unfinished, .unfinished])
    }

    @Test func pushedStreamsAreMarked() throws {
        var peers = Peers()
        peers.request(1, path: "/index.html")
        let promise = peers.server.block([(":method", "GET"), (":scheme", "http"), (":path", "/style.css"), (":authority", "svc")])
        peers.send(.server, Wire.frame(.pushPromise, flags: 0x4, stream: 1, [0, 0, 0, 2] + promise))
        peers.respond(1)
        peers.send(.server, Wire.data(stream: 1, endStream: true, [1]))
        peers.respond(2)
        peers.send(.server, Wire.data(stream: 2, endStream: true, [2]))
        let exchanges = peers.assembler.takeExchanges()
        #expect(exchanges.map(\.streamID) == [1, 2])
        #expect(exchanges.map(\.pushed) == [false, true])
        #expect(exchanges[1].promisedOn == 1)
        #expect(exchanges[1].path == "/style.css")
        #expect(exchanges[1].response.body == [2])
    }

    @Test func bodiesAndOpenStreamsAreBounded() {
        var peers = Peers(limits: HTTP2Limits(maxOpenStreams: 2, maxBodyBytes: 10))
        peers.request(1, path: "/a", endStream: false)
        peers.request(3, path: "/b")
        peers.request(5, path: "/c")
        peers.send(.client, Wire.data(stream: 1, Array(repeating: 7, count: 8)))
        peers.send(.client, Wire.data(stream: 1, endStream: true, Array(repeating: 8, count: 8)))
        peers.send(.server, Wire.data(stream: 5, endStream: true, [1]))
        let exchanges = peers.assembler.finish()
        #expect(exchanges.map(\.streamID) == [1, 3])
        #expect(exchanges[0].request.body.count == 10)
        #expect(exchanges[0].request.bodyBytes == 16)
        #expect(exchanges[0].request.truncated)
        let counters = peers.assembler.counters
        #expect(counters["http2_too_many_streams"] == 1)
        #expect(counters["http2_body_truncated"] == 1)
        #expect(counters["http2_frame_on_closed_stream"] == 1)
    }

    @Test func flowControlIsNotEnforced() {
        var peers = Peers()
        peers.send(.server, Wire.settings([(4, 10)]))
        peers.request(1, path: "/upload", endStream: false)
        peers.send(.client, Wire.data(stream: 1, endStream: true, Array(repeating: 1, count: 5000)))
        peers.respond(1, endStream: true)
        #expect(peers.assembler.takeExchanges().first?.request.bodyBytes == 5000)
    }

    /// Mid-connection: a stream already open is kept, flagged, with what was seen of it.
    @Test func midConnectionStreamsAlreadyOpenAreKept() {
        var peers = Peers(start: .midConnection)
        peers.send(.client, Wire.data(stream: 9, endStream: true, [1, 2]) + Wire.frame(.windowUpdate, [0, 0, 1, 0]))
        peers.respond(9, endStream: true)
        let exchange = peers.assembler.takeExchanges().first
        #expect(exchange?.streamID == 9)
        #expect(exchange?.startedBeforeCapture == true)
        #expect(exchange?.request.sawHeaders == false)
        #expect(exchange?.status == 200)
    }

    @Test func aCorruptFrameIsCountedAndTheDirectionResynchronises() {
        var peers = Peers()
        peers.request(1, path: "/a")
        peers.send(.server, Wire.frame(.ping, [1, 2, 3]))
        peers.respond(1, endStream: true)
        peers.request(3, path: "/b")
        peers.respond(3, endStream: true)
        let counters = peers.assembler.counters
        #expect(counters["http2_bad_frame_length"] == 1)
        let exchanges = peers.assembler.takeExchanges()
        #expect(exchanges.map(\.streamID) == [1, 3])
        #expect(exchanges.map(\.status) == [200, 200])
    }

    @Test func aGapRestartsTheDirectionAndMarksOpenMessages() {
        var peers = Peers()
        peers.request(1, path: "/a", endStream: false)
        peers.send(.client, Wire.data(stream: 1, [1, 2, 3]))
        peers.assembler.gap(in: .client)
        peers.send(.client, Array(Wire.data(stream: 1, [4, 5, 6, 7]).suffix(2)) + Wire.data(stream: 1, endStream: true, [8]) + Wire.frame(.ping, [0, 0, 0, 0, 0, 0, 0, 0]))
        peers.respond(1, endStream: true)
        let exchange = peers.assembler.takeExchanges().first
        #expect(exchange?.request.body == [1, 2, 3, 8])
        #expect(exchange?.request.incomplete == true)
        #expect(exchange?.request.ended == true)
        #expect(peers.assembler.counters["http2_gap"] == 1)
    }

    @Test func anHTTP1UpgradeRequestBecomesStreamOne() {
        var assembler = HTTP2StreamAssembler(start: .connectionStart)
        assembler.adoptUpgradeRequest(headers: [HeaderField(":method", "GET"), HeaderField(":path", "/eicar")], body: [], timestampNs: 5)
        var server = Encoder()
        assembler.ingest(Wire.settings([]) + Wire.headers(stream: 1, endStream: true, server.block([(":status", "206")])), from: .server, timestampNs: 9)
        let exchange = assembler.takeExchanges().first
        #expect(exchange?.path == "/eicar")
        #expect(exchange?.status == 206)
        #expect(exchange?.latencyNs == 4)
    }
}
