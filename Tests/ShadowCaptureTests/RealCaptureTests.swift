import Foundation
import ShadowCore
import Testing

@testable import ShadowCapture

/// The real captures in `../shared/realdata/pcap` (next to the repository), compared with the counts
/// tshark reports in that directory's MANIFEST.tsv.
@Suite struct RealCaptureTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let directory = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/realdata/pcap").path

    /// What shadowdiff must report for one HTTP/1 capture, and why it differs from tshark where it does.
    struct Expected: Sendable, CustomTestStringConvertible {
        var file: String
        var requests: Int64
        var responses: Int64
        var interim: Int64 = 0
        var drops: [DropReason: Int64] = [:]
        var why = ""
        var testDescription: String { file }
    }

    static let http1: [Expected] = [
        Expected(
            file: "http1-100-continue-chunked-post.pcap", requests: 1, responses: 1, interim: 1,
            why: "tshark counts the interim 100 Continue as a second response; shadowdiff counts it as interim_responses"),
        Expected(
            file: "http1-adtracking-keepalive-zero-length-bodies-drops.pcap", requests: 7, responses: 8,
            drops: [.gap: 3, .responseWithoutRequest: 1],
            why: "same totals; two requests and one response were never captured (3 holes, all acknowledged by the "
                + "peer), so one captured response answers a lost request and pairs with nothing"),
        Expected(file: "http1-docker-api-post-json-upgrade-101.pcap", requests: 6, responses: 6, drops: [.upgradedConnection: 1]),
        Expected(file: "http1-ipv6-post-json-mattermost.pcap", requests: 3, responses: 3),
        Expected(file: "http1-keepalive-5req-gzip-mozilla.pcap", requests: 5, responses: 5),
        Expected(
            file: "http1-post-chunked-gzip-body-100continue-multipart.pcap", requests: 10, responses: 10, interim: 3,
            why: "tshark's 13 responses include three interim 100 Continue, counted here as interim_responses"),
        Expected(file: "http1-post-json-chunked-resp-keepalive.pcap", requests: 3, responses: 3),
        Expected(
            file: "http1-post-jsonrpc.pcap", requests: 1, responses: 1, drops: [.unparsableRequest: 1, .skippedBytes: 106],
            why: "same totals; the second connection carries raw JSON-RPC over TCP (not HTTP), counted unparsable"),
        Expected(file: "http1-post-upload-retrans-ooo.pcap", requests: 3, responses: 3, drops: [.retransmittedSegment: 7]),
        Expected(
            file: "http1-post-xml-chunked-resp-retrans.pcap", requests: 4, responses: 4, drops: [.retransmittedSegment: 36],
            why: "tshark's 6 responses decode two retransmitted responses a second time; reassembly delivers each "
                + "byte once, so 4 requests get their 4 responses and the copies count retransmitted_segment"),
        Expected(file: "http1-tcp-handshake-reorder.pcap", requests: 1, responses: 1),
    ]

    struct ManifestRow: Sendable {
        var requests: Int64
        var responses: Int64
        var connections: Int64
        var h2Streams: Int64
        var grpcStreams: Int64
    }

    static func manifest() throws -> [String: ManifestRow] {
        let path = directory + "/MANIFEST.tsv"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let header = lines.removeFirst()
        let column = { (name: String) throws -> Int in try #require(header.firstIndex(of: name), "MANIFEST.tsv has no \(name) column") }
        let file = try column("file"), requests = try column("http_requests"), responses = try column("http_responses")
        let connections = try column("tcp_conns"), h2Streams = try column("h2_streams_with_HEADERS")
        let grpcStreams = try column("grpc_streams")
        var rows: [String: ManifestRow] = [:]
        for line in lines where line.count == header.count {
            rows[line[file]] = ManifestRow(
                requests: Int64(line[requests]) ?? -1, responses: Int64(line[responses]) ?? -1, connections: Int64(line[connections]) ?? -1,
                h2Streams: Int64(line[h2Streams]) ?? -1, grpcStreams: Int64(line[grpcStreams]) ?? -1)
        }
        return rows
    }

    /// Imports a capture committed in captures/.
    static func importCommitted(_ name: String) throws -> (Counters, [CapturedExchange]) {
        let path = repositoryRoot.appendingPathComponent("captures/" + name).path
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let (summary, exchanges) = try importCapture(path)
        return (summary.counters, exchanges)
    }

    func requireDirectory() throws {
        var isDirectory: ObjCBool = false
        try #require(
            FileManager.default.fileExists(atPath: Self.directory, isDirectory: &isDirectory) && isDirectory.boolValue,
            "the real-data captures are missing: expected them in \(Self.directory) (../shared/realdata/pcap from the repository root)")
    }

    /// Imports a capture and checks the invariants every import keeps.
    func load(_ file: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (Counters, [CapturedExchange]) {
        let (summary, exchanges) = try importCapture(Self.directory + "/" + file)
        let c = summary.counters
        #expect(c["exchanges"] == Int64(exchanges.count), "\(file): exchanges counter", sourceLocation: sourceLocation)
        #expect(c["requests"] == c["exchanges"], "\(file): every complete request is emitted", sourceLocation: sourceLocation)
        #expect(
            c[.requestWithoutResponse] == Int64(exchanges.count { $0.response == nil }),
            "\(file): request_without_response counts the exchanges stored without a response", sourceLocation: sourceLocation)
        #expect(exchanges.allSatisfy { ($0.productionLatencyNs ?? 0) >= 0 }, sourceLocation: sourceLocation)
        #expect(c["packets"] > 0 && c["bytes"] > 0, sourceLocation: sourceLocation)
        return (c, exchanges)
    }

    @Test func everyHTTP1CaptureHasAnExpectation() throws {
        try requireDirectory()
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasPrefix("http1-") }
        #expect(!files.isEmpty)
        #expect(Set(files) == Set(Self.http1.map(\.file)), "add an expectation for each new http1-* capture")
    }

    @Test(arguments: http1) func http1CaptureMatchesTshark(_ expected: Expected) throws {
        try requireDirectory()
        let manifest = try #require(try Self.manifest()[expected.file], "\(expected.file) is not in MANIFEST.tsv")
        let (c, exchanges) = try load(expected.file)
        #expect(c["requests"] == expected.requests, "requests (tshark \(manifest.requests)) \(expected.why)")
        #expect(c["responses"] == expected.responses, "responses (tshark \(manifest.responses)) \(expected.why)")
        #expect(c["requests"] + 0 == manifest.requests || !expected.why.isEmpty, "differs from tshark without a reason")
        #expect(c["responses"] + c["interim_responses"] == manifest.responses || !expected.why.isEmpty, "differs from tshark without a reason")
        #expect(c["interim_responses"] == expected.interim)
        #expect(c["tcp_connections"] == manifest.connections, "tcp_connections (tshark \(manifest.connections))")
        #expect(exchanges.count == Int(expected.requests))
        for reason in DropReason.allCases {
            #expect(c[reason] == expected.drops[reason, default: 0], "\(reason.rawValue)")
        }
    }

    @Test func gzipBodiesAreStoredAsSent() throws {
        try requireDirectory()
        let (_, exchanges) = try load("http1-keepalive-5req-gzip-mozilla.pcap")
        let gzipped = exchanges.compactMap(\.response).filter { $0.headers.first("Content-Encoding") == "gzip" }
        #expect(gzipped.count == 2, "the manifest lists 2 content-encoded messages")
        for response in gzipped {
            #expect(response.body.starts(with: [0x1F, 0x8B]), "gzip magic: the body is kept compressed, as sent")
            #expect(response.headers.first("Content-Length").flatMap { Int($0) } == response.body.count)
        }
    }

    @Test func docker101AndCONNECTExchangesKeepTheirAnswer() throws {
        try requireDirectory()
        let (_, docker) = try load("http1-docker-api-post-json-upgrade-101.pcap")
        #expect(docker.contains { $0.response?.status == 101 })
        #expect(docker.first?.request.method == "HEAD" && docker.first?.response?.body.isEmpty == true)
        let (_, proxied) = try load("grpc-unary-node-via-http-connect-proxy.pcap")
        #expect(proxied.filter { $0.wireProtocol == .http1 }.map(\.request.method) == ["CONNECT"])
    }

    /// Captures of other protocols: nothing is stored, everything is counted, nothing crashes. (The
    /// h2c and gRPC captures are HTTP2RealCaptureTests'.)
    @Test(arguments: [
        ("thrift-binary-framed-tutorial.pcap", DropReason.unparsableRequest),
        ("thrift-binary-integration-testsuite-18conns.pcap", .unparsableRequest),
        ("thrift-binary-tcp-plus-jaeger-compact-udp.pcap", .unparsableRequest),
        ("thrift-binary-unframed-tutorial.pcap", .unparsableRequest),
        ("thrift-finagle-vlan-exception.pcap", .unparsableRequest),
        ("thrift-ipv6-loopback.pcap", .unparsableRequest),
    ])
    func otherProtocolsAreCountedNotStored(_ file: String, _ reason: DropReason) throws {
        try requireDirectory()
        let manifest = try #require(try Self.manifest()[file], "\(file) is not in MANIFEST.tsv")
        let (c, exchanges) = try load(file)
        #expect(exchanges.isEmpty && manifest.requests == 0)
        #expect(c[reason] > 0, "\(reason.rawValue)")
        #expect(c["tcp_connections"] == manifest.connections)
        if reason == .unparsableRequest { #expect(c[.skippedBytes] > 0) }
    }

    @Test func mixedCapturesWithSomeHTTP1() throws {
        try requireDirectory()
        let manifest = try Self.manifest()
        // h2c Upgrade: 5 HTTP/1.1 GETs, three answered by 101, after which the connection is h2c and the
        // request is stream 1, answered there (tshark's 5 responses are the HTTP/1.1 ones: 2 × 206, 3 × 101).
        let (upgrade, upgradeExchanges) = try load("h2c-upgrade-101-range-mixed-h1.pcap")
        #expect(upgrade["requests"] == manifest["h2c-upgrade-101-range-mixed-h1.pcap"]?.requests)
        #expect(upgrade["responses"] == manifest["h2c-upgrade-101-range-mixed-h1.pcap"].map { $0.responses + 3 })
        #expect(upgradeExchanges.compactMap { $0.response?.status } == [206, 206, 206, 206, 206])
        #expect(upgradeExchanges.map(\.wireProtocol) == [.h2, .http1, .h2, .http1, .h2])
        #expect(upgrade[.upgradedConnection] == 0 && upgrade[.http2Connection] == 3)
        // gRPC through an HTTP CONNECT proxy: the CONNECT exchange (tshark, told port 8888 is HTTP, sees the
        // same one), then a tunnel carrying HTTP/2 with prior knowledge; the proxy-to-server leg is HTTP/2
        // with prior knowledge too. The call is stored once per leg.
        let (proxy, proxyExchanges) = try load("grpc-unary-node-via-http-connect-proxy.pcap")
        #expect(proxy["requests"] == manifest["grpc-unary-node-via-http-connect-proxy.pcap"].map { $0.requests + 2 })
        #expect(proxy["responses"] == manifest["grpc-unary-node-via-http-connect-proxy.pcap"].map { $0.responses + 2 })
        #expect(proxyExchanges.map(\.wireProtocol).sorted { $0.rawValue < $1.rawValue } == [.grpc, .grpc, .http1])
        #expect(proxy[.upgradedConnection] == 1 && proxy[.http2Connection] == 2)
    }

    /// The committed demo capture (captures/README.md): 104 exchanges over 8 connections.
    @Test func committedSampleCapture() throws {
        let (c, exchanges) = try Self.importCommitted("sample.pcap")
        #expect(c["packets"] == 272 && c["tcp_connections"] == 8)
        #expect(exchanges.count == 104 && c["requests"] == 104 && c["responses"] == 104)
        #expect(exchanges.count { $0.response?.status == 204 } == 4)
        #expect(c.drops.isEmpty, "\(c.drops)")
        #expect(exchanges.allSatisfy { $0.request.method == "POST" && $0.request.target == "/openrtb2/auction" })
    }
}
