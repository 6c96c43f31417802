import NIOCore
import ShadowCore
import Testing

@testable import ShadowTee

@Suite struct RecordingPolicyTests {
    private func exclusion(_ policy: RecordingPolicy, _ method: String = "POST", _ target: String = "/openrtb2/auction",
                           headers: [HeaderField] = [], connection: String = "10.0.0.1:5000") -> DropReason? {
        policy.exclusion(method: method, target: target, header: { headers.first($0) }, connectionKey: connection)
    }

    @Test func everythingIsRecordedByDefault() {
        #expect(exclusion(RecordingPolicy()) == nil)
    }

    @Test func theSampleIsStableAndNearItsPercentage() {
        var policy = RecordingPolicy()
        policy.samplePercent = 25
        let keys = (0..<20_000).map { "request-\($0)" }
        let chosen = keys.filter { policy.samples(key: $0) }
        #expect(abs(Double(chosen.count) / 20_000 - 0.25) < 0.02, "\(chosen.count) of 20000")
        #expect(keys.filter { policy.samples(key: $0) } == chosen, "same keys, same decisions")
        // A larger sample contains the smaller one: raising --sample only adds requests.
        var larger = policy
        larger.samplePercent = 50
        #expect(chosen.allSatisfy { larger.samples(key: $0) })
        // Pinned buckets: the hash is part of the contract (a sample must be the same on every host).
        #expect(StableSample.bucket(of: "") == StableSample.bucket(of: ""))
        #expect((0..<100).map { StableSample.bucket(of: "k\($0)") }.allSatisfy { (0..<10_000).contains($0) })
    }

    @Test func aHeaderKeySharesTheDecisionAndFallsBackToTheConnection() {
        var policy = RecordingPolicy()
        policy.samplePercent = 50
        policy.sampleKey = .header("X-User")
        let users = (0..<200).map { "user-\($0)" }
        for user in users {
            let decisions = (0..<5).map { exclusion(policy, headers: [HeaderField("x-user", user)], connection: "10.0.0.\($0):1") }
            #expect(Set(decisions.map { $0 == nil }).count == 1, "one decision per user whatever the connection")
        }
        #expect(Set(users.map { exclusion(policy, headers: [HeaderField("X-User", $0)]) }) == [nil, .notSampled])
        #expect(exclusion(policy, connection: "a") == exclusion(policy, connection: "a"))
    }

    @Test func methodAndPathFiltersExcludeBeforeSampling() {
        var policy = RecordingPolicy()
        policy.filter = RequestFilter(methods: ["POST"], pathPrefixes: ["/openrtb2/"], excludedPathPrefixes: ["/openrtb2/status"])
        #expect(exclusion(policy, "POST", "/openrtb2/auction?x=1") == nil)
        #expect(exclusion(policy, "post", "/openrtb2/auction") == nil)
        #expect(exclusion(policy, "GET", "/openrtb2/auction") == .filteredOut)
        #expect(exclusion(policy, "POST", "/metrics") == .filteredOut)
        #expect(exclusion(policy, "POST", "/openrtb2/status") == .filteredOut)
        #expect(exclusion(policy, "POST", "/x?/openrtb2/") == .filteredOut, "the query is not the path")
    }

    @Test func redactionReplacesValuesAndKeepsNamesAndOrder() throws {
        var policy = RecordingPolicy()
        policy.redactedHeaders = ["Authorization", "cookie"]
        let head = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\nCOOKIE: s=1\r\nCookie: t=2\r\n\r\n")
        let stored = try #require(policy.storedFields(of: head, isRequest: true))
        #expect(stored.redacted == 3)
        #expect([HeaderField](wireText: String(decoding: stored.text, as: UTF8.self)) == [
            HeaderField("Host", "a"), HeaderField("Authorization", "[redacted]"), HeaderField("COOKIE", "[redacted]"),
            HeaderField("Cookie", "[redacted]"),
        ])
        #expect(RecordingPolicy().storedFields(of: head, isRequest: true)?.redacted == 0)
    }

    /// The spool gets heads already redacted: rebuilt from the start line and the stored text, they
    /// parse to the same stored text, and nothing of the secret values is left in their bytes.
    @Test func redactedHeadsAreHeadsAgainWithoutTheSecrets() throws {
        var policy = RecordingPolicy()
        policy.redactedHeaders = ["authorization", "set-cookie"]
        let request = ByteBuffer(string: "POST /a?b=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sekrit\r\nContent-Length: 2\r\n\r\n")
        let rebuilt = try #require(policy.redacted(request, isRequest: true))
        #expect(rebuilt.redacted == 1)
        #expect(String(buffer: rebuilt.head) == "POST /a?b=1 HTTP/1.1\r\nHost: a\r\nAuthorization: [redacted]\r\nContent-Length: 2\r\n\r\n")
        let again = try #require(RecordingPolicy().storedFields(of: rebuilt.head, isRequest: true))
        #expect(again.text == policy.storedFields(of: request, isRequest: true)?.text)
        #expect(again.head.method == "POST" && again.head.target == "/a?b=1")

        let response = ByteBuffer(string: "HTTP/1.1 200 OK\r\nSet-Cookie: id=sekrit\r\n\r\n")
        let answer = try #require(policy.redacted(response, isRequest: false))
        #expect(String(buffer: answer.head) == "HTTP/1.1 200 OK\r\nSet-Cookie: [redacted]\r\n\r\n")
        #expect(RecordingPolicy().storedFields(of: answer.head, isRequest: false)?.head.status == 200)
        // Nothing to redact: the head itself, untouched.
        let plain = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(policy.redacted(plain, isRequest: true)?.head == plain)
        #expect(policy.redacted(ByteBuffer(string: "nonsense\r\n\r\n"), isRequest: true) == nil)
    }

    @Test func listenAddressesParse() {
        #expect(SocketAddressText(parsing: "8080") == SocketAddressText(host: "127.0.0.1", port: 8080))
        #expect(SocketAddressText(parsing: "0.0.0.0:80") == SocketAddressText(host: "0.0.0.0", port: 80))
        #expect(SocketAddressText(parsing: "[::1]:9000") == SocketAddressText(host: "::1", port: 9000))
        #expect(SocketAddressText(parsing: "[::1]:9000")?.description == "[::1]:9000")
        for bad in ["", "host:", ":80", "x:99999", "[::1]", "[::1]9000", "a:b"] {
            #expect(SocketAddressText(parsing: bad) == nil, "\(bad)")
        }
    }
}
