import Foundation
import Testing

/// `fixture-grpc-bidder` driven by a real grpcio peer (fixtures/grpc_client.py): its decisions are
/// the HTTP bidder's, and the candidate differs from the baseline exactly as fixtures/README.md
/// ("The gRPC bidder") documents.
@Suite struct GRPCBidderTests {
    static let requests: [String] = {
        let dir = Harness.root + "/fixtures/requests"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
    }()
    static let noImp = Harness.root + "/fixtures/grpc-bidder/requests/no-imp.json"
    static let noID = Harness.root + "/fixtures/grpc-bidder/requests/no-id.json"

    /// One call as grpc_client.py --json prints it.
    struct Call: Decodable {
        var kind: String
        var files: [String]
        var code: String
        var message: String
        var responses: [Decision]
    }

    struct Decision: Decodable, Equatable {
        var id: String
        var nbr: Int?
        var bids: [Bid]
    }

    struct Bid: Decodable, Equatable {
        var impid: String
        var price: Double
        var crid: String
        var adomain: [String]
        var dealid: String?
    }

    /// The unary calls (26 files, no-imp, no-id), a stream of all 26, and a stream 01, no-imp, 02.
    static func drive(_ build: String) throws -> [Call] {
        let bidder = try RunningBidder(
            executable: Harness.grpcBidder, arguments: ["--build", build, "--port", "0", "--slow-ms", "1"])
        defer { bidder.stop() }
        let out = try Harness.run(Harness.python3, [
            Harness.root + "/fixtures/grpc_client.py", "--target", "127.0.0.1:\(bidder.port)", "--json",
        ] + requests + [noImp, noID] + [
            "--stream", requests.joined(separator: ","),
            "--stream", [requests[0], noImp, requests[1]].joined(separator: ","),
        ])
        #expect(out.status == 0, "grpc_client.py: \(out.stderr)")
        let calls = try out.stdout.split(separator: "\n").map { try JSONDecoder().decode(Call.self, from: Data($0.utf8)) }
        try #require(calls.count == requests.count + 4, "\(out.stdout)\(out.stderr)")
        return calls
    }

    /// What `fixture-bidder` (HTTP/1.1, JSON) decides for each of fixtures/requests/*.json.
    static func httpDecisions(_ build: String) throws -> [Decision?] {
        let bidder = try RunningBidder(build: build, arguments: ["--slow-ms", "1"])
        defer { bidder.stop() }
        let script = """
            import json, sys, urllib.request
            for path in sys.argv[2:]:
                request = urllib.request.Request(sys.argv[1], data=open(path, 'rb').read(), headers={'Content-Type': 'application/json'})
                with urllib.request.urlopen(request, timeout=10) as answer:
                    body = answer.read()
                    print(json.dumps(json.loads(body) if answer.status == 200 else None))
            """
        let out = try Harness.run("/usr/bin/python3", ["-c", script, bidder.url + "/openrtb2/auction"] + requests)
        #expect(out.status == 0, "\(out.stderr)")
        return try out.stdout.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: .fragmentsAllowed) as? [String: Any]
            else { return nil }
            let bids = (object["seatbid"] as? [[String: Any]] ?? []).flatMap { $0["bid"] as? [[String: Any]] ?? [] }
            return Decision(id: object["id"] as? String ?? "", nbr: nil, bids: bids.map { bid in
                Bid(impid: bid["impid"] as? String ?? "", price: bid["price"] as? Double ?? -1,
                    crid: bid["crid"] as? String ?? "", adomain: bid["adomain"] as? [String] ?? [],
                    dealid: bid["dealid"] as? String)
            })
        }
    }

    @Test func baselineAndCandidateDifferExactlyAsDocumented() throws {
        let baseline = try Self.drive("baseline")
        let candidate = try Self.drive("candidate")
        let n = Self.requests.count
        #expect(n == 26)
        let ids = try Self.requests.map { path in
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
            return object?["id"] as? String ?? ""
        }

        // Unary calls on the 26 files: every one OK, one response echoing the request id.
        for calls in [baseline, candidate] {
            for (call, id) in zip(calls.prefix(n), ids) {
                #expect(call.kind == "unary" && call.code == "OK" && call.responses.map(\.id) == [id], "\(call)")
            }
        }
        var price: [String] = [], crid: [String] = [], noBid: [String] = []
        for (b, c) in zip(baseline.prefix(n), candidate.prefix(n)) {
            let file = String(b.files[0].prefix(2))
            let bBids = Dictionary(uniqueKeysWithValues: b.responses[0].bids.map { ($0.impid, $0) })
            let cBids = Dictionary(uniqueKeysWithValues: c.responses[0].bids.map { ($0.impid, $0) })
            for (impid, bid) in bBids.sorted(by: { $0.key < $1.key }) {
                guard let other = cBids[impid] else {
                    noBid.append("\(file):\(impid)")
                    continue
                }
                if bid.price != other.price { price.append("\(file):\(impid):\(bid.price)->\(other.price)") }
                if bid.crid != other.crid {
                    #expect(bid.crid == "crid-300x250" && other.crid == "crid-300x250-v2")
                    crid.append("\(file):\(impid)")
                }
                #expect(bid.adomain == other.adomain && bid.dealid == other.dealid)
            }
            #expect(cBids.keys.allSatisfy { bBids[$0] != nil }, "the candidate never bids where the baseline does not")
        }
        #expect(price == [
            "07:1:3.17->2.85", "08:postbid_iframe:3.25->2.93", "14:test-video-id:3.61->3.25", "15:jx-video-1:3.17->2.85",
            "17:ctv-1:12.25->11.03", "26:pod-1:4.75->4.28", "26:pod-2:4.86->4.37",
        ])
        #expect(crid == ["01:1", "03:imp-1", "13:some-impression-id", "15:jx-banner-1", "16:1", "22:some-impression-id", "24:1", "25:1"])
        #expect(noBid == ["19:1", "20:outstream", "20:top"])
        // No-bids carry nbr: 18 (floor) in both builds is 0; the candidate's excluded publisher is 7.
        let nbr = { (calls: [Call]) in calls.prefix(n).compactMap { $0.responses[0].nbr.map { "\($0)" } } }
        #expect(nbr(baseline) == ["0"])
        #expect(nbr(candidate) == ["0", "7", "7"])
        #expect(baseline.prefix(n).allSatisfy { ($0.responses[0].nbr == nil) != $0.responses[0].bids.isEmpty })

        // (e) no imp: the baseline fails the call, the candidate answers nbr 2; no id fails in both.
        #expect(baseline[n].code == "INVALID_ARGUMENT" && baseline[n].message == "no impressions" && baseline[n].responses.isEmpty)
        #expect(candidate[n].code == "OK" && candidate[n].responses == [Decision(id: "grpc-no-imp-7f3a", nbr: 2, bids: [])])
        for calls in [baseline, candidate] {
            #expect(calls[n + 1].code == "INVALID_ARGUMENT" && calls[n + 1].message == "bid request has no id")
        }

        // BidStream: one response per message, in order, each the unary call's decision.
        for calls in [baseline, candidate] {
            let stream = calls[n + 2]
            #expect(stream.kind == "stream" && stream.code == "OK")
            #expect(stream.responses == calls.prefix(n).map { $0.responses[0] })
        }
        #expect(baseline[n + 3].code == "INVALID_ARGUMENT" && baseline[n + 3].message == "no impressions")
        #expect(baseline[n + 3].responses == [baseline[0].responses[0]], "01 answered, then the call ends")
        #expect(candidate[n + 3].code == "OK")
        #expect(candidate[n + 3].responses == [candidate[0].responses[0], candidate[n].responses[0], candidate[1].responses[0]])
    }

    /// The gRPC bidder bids exactly what the HTTP bidder bids on every sample request, in both builds.
    @Test func decisionsAreTheHTTPBiddersDecisions() throws {
        for build in ["baseline", "candidate"] {
            let grpc = try Self.drive(build).prefix(Self.requests.count)
            let http = try Self.httpDecisions(build)
            try #require(http.count == grpc.count)
            for (call, decision) in zip(grpc, http) {
                let answer = try #require(call.responses.first)
                if let decision {
                    #expect(answer == decision, "\(build) \(call.files)")
                } else {
                    #expect(answer.bids.isEmpty && answer.nbr != nil, "\(build) \(call.files): 204 over HTTP")
                }
            }
        }
    }

    /// The committed descriptor set is what protoc makes of the committed .proto files now.
    @Test func committedDescriptorSetMatchesTheProtoFiles() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let proto = Harness.root + "/fixtures/grpc-bidder/proto"
            let out = try Harness.run(Harness.python3, [
                "-m", "grpc_tools.protoc", "-I", proto, "--descriptor_set_out=\(dir)/bidder.pb", "--include_imports",
                proto + "/bidder.proto",
            ])
            #expect(out.status == 0, "\(out.stderr)")
            let made = try Data(contentsOf: URL(fileURLWithPath: dir + "/bidder.pb"))
            let committed = try Data(contentsOf: URL(fileURLWithPath: Harness.root + "/fixtures/grpc-bidder/bidder.pb"))
            #expect(made == committed, "run fixtures/grpc-bidder/generate.sh (see its README)")
        }
    }
}
