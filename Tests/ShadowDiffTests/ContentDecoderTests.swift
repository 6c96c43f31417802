import Foundation
import ShadowCore
import Testing

@testable import ShadowDiff

/// ContentDecoder against bodies compressed by Python's zlib (fixtures/encoding/make.sh).
@Suite struct ContentDecoderTests {
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/fixtures/encoding/"
    }()

    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: directory + name)))
    }

    @Test(arguments: [
        ("bid.json.gz", "gzip"), ("bid.json.gz", "x-gzip"), ("bid.json.zlib", "deflate"),
        ("bid.json.rawdeflate", "deflate"), ("bid.json.gz.gz", "gzip, gzip"), ("bid.json.gz", "identity, GZIP"),
    ])
    func decodesWhatPythonEncoded(file: String, coding: String) throws {
        let plain = try Self.fixture("bid.json")
        let (decoded, outcome) = ContentDecoder.decode(try Self.fixture(file), headers: [HeaderField("content-encoding", coding)])
        #expect(decoded == plain)
        #expect(outcome == .decoded(coding.lowercased().replacingOccurrences(of: "identity, ", with: "")))
    }

    @Test func identityAndMissingHeaderLeaveTheBody() throws {
        let plain = try Self.fixture("bid.json")
        #expect(ContentDecoder.decode(plain, headers: []) == (plain, .identity))
        #expect(ContentDecoder.decode(plain, headers: [HeaderField("Content-Encoding", "identity")]) == (plain, .identity))
    }

    @Test func unsupportedCorruptAndOversizedAreLeftAsSent() throws {
        let gz = try Self.fixture("bid.json.gz")
        let br = ContentDecoder.decode(gz, headers: [HeaderField("Content-Encoding", "br")])
        #expect(br.0 == gz && br.1 == .undecodable("unsupported content coding 'br'"))

        var corrupt = gz
        corrupt[corrupt.count / 2] ^= 0xFF
        corrupt.removeLast(4)
        let bad = ContentDecoder.decode(corrupt, headers: [HeaderField("Content-Encoding", "gzip")])
        #expect(bad.0 == corrupt)
        #expect(bad.1 != .identity && bad.1 != .decoded("gzip"))

        let bomb = try Self.fixture("zeros-16MiB.gz")
        let capped = ContentDecoder.decode(bomb, headers: [HeaderField("Content-Encoding", "gzip")], maxBytes: 1 << 20)
        #expect(capped.0 == bomb, "16 MiB of zeros is more than the 1 MiB allowed")
        let whole = ContentDecoder.decode(bomb, headers: [HeaderField("Content-Encoding", "gzip")])
        #expect(whole.0.count == 16 << 20 && whole.0.allSatisfy { $0 == 0 })
    }

    @Test func aGzippedAnswerMatchesThePlainOneInTheDiff() throws {
        let request = RecordedRequest(
            method: "POST", target: "/openrtb2/auction", headers: [],
            body: Array(#"{"id":"80ce30c53c16e6ede735f123ef6e32361bfc7b22","imp":[{"id":"1","banner":{}}]}"#.utf8))
        let plain = try Self.fixture("bid.json")
        let a = PreparedAnswer(
            response: RecordedResponse(status: 200, headers: [HeaderField("Content-Encoding", "gzip")], body: try Self.fixture("bid.json.gz")),
            failure: nil, preset: .openrtb)
        let b = PreparedAnswer(response: RecordedResponse(status: 200, headers: [], body: plain), failure: nil, preset: .openrtb)
        #expect(!a.bids.isEmpty && a.bids == b.bids)
        var accumulator = DiffAccumulator(rules: DiffRules())
        accumulator.add(exchangeID: 1, request: request, results: [
            .baseline: SideResult(exchangeID: 1, side: .baseline, response: RecordedResponse(status: 200, headers: [HeaderField("Content-Encoding", "gzip")], body: try Self.fixture("bid.json.gz")), firstByteNs: 1, latencyNs: 1),
            .candidate: SideResult(exchangeID: 1, side: .candidate, response: RecordedResponse(status: 200, headers: [], body: plain), firstByteNs: 1, latencyNs: 1),
        ])
        let summary = accumulator.finish()
        #expect(summary.rulesApplied == ["openrtb": 1])
        let mismatches = summary.groups
        #expect(mismatches.isEmpty, "\(mismatches)")
    }
}
