import Foundation
import ShadowCore
import Testing

@testable import ShadowCapture

/// The h2c and gRPC captures of `../shared/realdata/pcap` through the real `PcapFileImporter`, against
/// MANIFEST.tsv's tshark counts: every stream with HEADERS is a stored exchange or a counted push.
@Suite struct HTTP2RealCaptureTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        var file: String
        /// HTTP/1.1 exchanges stored beside the streams.
        var http1 = 0
        var pushed: Int64 = 0
        var http2Connections: Int64 = 1
        var upgraded: Int64 = 0
        /// Streams stored without a response.
        var withoutResponse = 0
        var why = ""
        var testDescription: String { file }
    }

    static let expected: [Expected] = [
        Expected(file: "grpc-client-streaming-go.pcap"),
        Expected(
            file: "grpc-server-streaming-go-midstream.pcap", withoutResponse: 1,
            why: "the capture lost 3 segments of the response (gap 3): with bytes of it missing, the request is stored "
                + "without it (http2_incomplete_message, request_without_response), so no grpc-status is stored"),
        Expected(file: "grpc-unary-gzip-bin-metadata-midstream.pcap"),
        Expected(
            file: "grpc-unary-node-via-http-connect-proxy.pcap", http1: 1, http2Connections: 2, upgraded: 1,
            why: "the CONNECT exchange, then the same call twice: client to proxy inside the tunnel, proxy to server"),
        Expected(file: "h2c-doh-post-34streams.pcap"),
        Expected(file: "h2c-ipv6-loopback-nghttpd-multiplexed.pcap"),
        Expected(file: "h2c-post-json-5g-sbi.pcapng"),
        Expected(file: "h2c-prior-knowledge-nghttp2-16k-headers-push.pcap", pushed: 1),
        Expected(
            file: "h2c-upgrade-101-range-mixed-h1.pcap", http1: 2, http2Connections: 3,
            why: "two connections stay HTTP/1.1; three upgrade, their GET becoming stream 1"),
    ]

    /// Reasons that mean the decoder misread a capture it should read whole.
    static let decodingErrors: [DropReason] = [
        .http2BadPreface, .http2FrameTooLarge, .http2BadFrameLength, .http2BadPadding, .http2BadStreamID,
        .http2NoFrameBoundary, .http2OrphanContinuation, .http2InterruptedHeaderBlock, .http2HeaderBlockTooLarge,
        .hpackMalformed, .hpackIndexOutOfRange, .hpackBadTableSizeUpdate, .hpackHeaderListTooLarge, .hpackUnknownEntry,
        .unparsableRequest, .unparsableResponse, .skippedBytes,
    ]

    let real = RealCaptureTests()

    @Test func everyH2AndGRPCCaptureHasAnExpectation() throws {
        try real.requireDirectory()
        let files = try FileManager.default.contentsOfDirectory(atPath: RealCaptureTests.directory)
            .filter { $0.hasPrefix("h2c-") || $0.hasPrefix("grpc-") }
        #expect(!files.isEmpty)
        #expect(Set(files) == Set(Self.expected.map(\.file)), "add an expectation for each new h2c-* or grpc-* capture")
    }

    @Test(arguments: expected) func streamsMatchTheManifest(_ expected: Expected) throws {
        try real.requireDirectory()
        let manifest = try #require(try RealCaptureTests.manifest()[expected.file], "\(expected.file) is not in MANIFEST.tsv")
        let (c, exchanges) = try real.load(expected.file)
        let streams = exchanges.filter { $0.wireProtocol != .http1 }
        let note = "\(expected.file): \(expected.why)"
        #expect(Int64(streams.count) + c[.http2PushedStream] == manifest.h2Streams, "h2_streams_with_HEADERS; \(note)")
        #expect(c[.http2PushedStream] == expected.pushed)
        #expect(exchanges.count - streams.count == expected.http1)
        #expect(streams.count { $0.response == nil } == expected.withoutResponse, "\(note)")
        #expect(c[.http2Connection] == expected.http2Connections && c[.upgradedConnection] == expected.upgraded)
        #expect(c["tcp_connections"] == manifest.connections)
        for reason in Self.decodingErrors { #expect(c[reason] == 0, "\(reason.rawValue)") }
        for name in c.values.keys where name.hasPrefix("http2_") || name.hasPrefix("hpack_") {
            #expect(DropReason(rawValue: name) != nil || CaptureTally.http2Informational.contains(name), "\(name) is neither a drop nor described")
        }

        let calls = streams.filter { $0.wireProtocol == .grpc }
        #expect(Int64(calls.count) == manifest.grpcStreams, "grpc_streams")
        for call in calls {
            #expect(call.request.method == "POST")
            #expect(call.request.target.hasPrefix("/") && call.request.target.dropFirst().contains("/"), "\(call.request.target)")
            guard let response = call.response else { continue }
            #expect(response.status == 200)
            #expect(response.headers.first("grpc-status") == "0")
        }
        for stream in streams {
            #expect(stream.request.headers.allSatisfy { !$0.name.hasPrefix(":") })
            #expect(stream.response?.headers.allSatisfy { !$0.name.hasPrefix(":") } ?? true)
            #expect(stream.request.version == (stream.request.headers.first("upgrade") == "h2c" ? "HTTP/1.1" : "HTTP/2"))
        }
    }

    /// The three upgraded connections: the HTTP/1.1 GET is stream 1, answered 206 on HTTP/2.
    @Test func anUpgradeRequestIsStreamOne() throws {
        try real.requireDirectory()
        let (_, exchanges) = try real.load("h2c-upgrade-101-range-mixed-h1.pcap")
        let upgraded = exchanges.filter { $0.wireProtocol == .h2 }
        #expect(upgraded.map(\.connection) == [1, 3, 5])
        for exchange in upgraded {
            #expect(exchange.request.method == "GET" && exchange.request.target == "/eicar")
            #expect(exchange.request.headers.first("HTTP2-Settings") != nil && exchange.request.headers.first("Range") != nil)
            #expect(exchange.response?.status == 206)
            #expect(exchange.response?.headers.first("content-range") != nil)
            #expect(exchange.productionLatencyNs.map { $0 > 0 } == true)
        }
        #expect(exchanges.filter { $0.wireProtocol == .http1 }.map(\.connection) == [2, 4])
    }

    /// Bodies are the DATA bytes with gRPC's 5-byte prefixes; trailers follow the headers.
    @Test func aGRPCCallKeepsItsFramingAndItsTrailers() throws {
        try real.requireDirectory()
        let (_, exchanges) = try real.load("grpc-client-streaming-go.pcap")
        let call = try #require(exchanges.first)
        #expect(call.wireProtocol == .grpc && call.request.target == "/StreamingService/ClientStreamRPC")
        #expect(call.request.body.count == 3 * (5 + 25), "three 25-byte messages, each after its prefix")
        #expect(Array(call.request.body.prefix(5)) == [0, 0, 0, 0, 25])
        let response = try #require(call.response)
        #expect(response.body.count == 5 + 103)
        let names = response.headers.map { $0.name.lowercased() }
        let status = try #require(names.firstIndex(of: "grpc-status"))
        #expect(try #require(names.firstIndex(of: "content-type")) < status, "trailers come after the headers")
    }

    /// The committed nghttp/nghttpd capture (captures/README.md says how it was made).
    @Test func committedNghttpCapture() throws {
        let (c, exchanges) = try RealCaptureTests.importCommitted("h2c-nghttp.pcap")
        #expect(c["packets"] == 34 && c["tcp_connections"] == 3)
        #expect(exchanges.map(\.wireProtocol) == [.h2, .h2, .http1])
        #expect(exchanges.map(\.request.method) == ["GET", "POST", "GET"])
        #expect(exchanges.map { $0.response?.status } == [200, 200, nil])
        #expect(exchanges[1].request.body == Array("{\"bid\":1}\n".utf8))
        #expect(exchanges[1].request.headers.first("content-type") == "application/json")
        #expect(exchanges[0].response?.body.starts(with: Array("<html>".utf8)) == true)
        #expect(c[.http2Connection] == 2 && c[.http2PushedStream] == 2)
        #expect(c[.unparsableResponse] == 1 && c[.requestWithoutResponse] == 1, "nghttpd answers the h2c upgrade with SETTINGS")
    }

    /// The committed grpcio -> fixture-grpc-bidder capture (captures/make-grpc-capture.sh): one
    /// exchange per RPC sent, 28 unary and 3 streaming, with their messages and statuses.
    @Test func committedGRPCBidderCapture() throws {
        let (c, exchanges) = try RealCaptureTests.importCommitted("grpc-bidder.pcap")
        #expect(c["tcp_connections"] == 1 && c[.http2Connection] == 1)
        #expect(exchanges.count == 31 && exchanges.allSatisfy { $0.wireProtocol == .grpc })
        let bid = "/shadowdiff.bidder.v1.Bidder/Bid", stream = "/shadowdiff.bidder.v1.Bidder/BidStream"
        #expect(exchanges.map(\.request.target) == Array(repeating: bid, count: 28) + Array(repeating: stream, count: 3))
        #expect(exchanges.allSatisfy { $0.request.method == "POST" && $0.response?.status == 200 })
        let statuses = exchanges.map { $0.response?.headers.first("grpc-status") ?? "none" }
        #expect(statuses == Array(repeating: "0", count: 26) + ["3", "3", "0", "0", "3"])
        // How many gRPC messages (5-byte prefix, then the message) a body holds; -1 if it is not whole.
        func messages(_ body: [UInt8]) -> Int {
            var offset = 0, count = 0
            while offset + 5 <= body.count {
                let length = body[offset + 1...offset + 4].reduce(0) { $0 << 8 | Int($1) }
                offset += 5 + length
                count += 1
            }
            return offset == body.count ? count : -1
        }
        #expect(exchanges.map { messages($0.request.body) } == Array(repeating: 1, count: 28) + [13, 13, 3])
        let answered = exchanges.map { messages($0.response?.body ?? []) }
        #expect(answered == Array(repeating: 1, count: 26) + [0, 0, 13, 13, 1], "01 answered, then no-imp ends the call")
    }

    /// The 16 KiB request header block spans CONTINUATIONs and segments; the pushed stream is counted.
    @Test func aHugeHeaderBlockAndAPush() throws {
        try real.requireDirectory()
        let (c, exchanges) = try real.load("h2c-prior-knowledge-nghttp2-16k-headers-push.pcap")
        let main = try #require(exchanges.first)
        #expect(exchanges.count == 1 && c[.http2PushedStream] == 1)
        #expect(main.request.method == "GET" && main.request.target == "/")
        #expect(main.request.headers.wireUTF8.count > 16_000)
        #expect(main.response?.status == 200)
    }
}
