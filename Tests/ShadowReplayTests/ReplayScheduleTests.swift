import NIOCore
import ShadowCore
import ShadowStore
import Testing

@testable import ShadowReplay

@Suite struct ReplayScheduleTests {
    @Test func rateSpacesRequestsEvenly() {
        var schedule = ReplaySchedule(mode: .rate(2000))
        let dues = (0..<5).map { _ in schedule.due(captureTimeNs: 999, nowNs: 0) }
        #expect(dues == [0, 500_000, 1_000_000, 1_500_000, 2_000_000])
    }

    @Test func speedScalesTheCapturesOwnGapsAndLoopsOn() {
        var schedule = ReplaySchedule(mode: .speed(2))
        let captured: [Int64] = [5_000_000, 15_000_000, 35_000_000]
        #expect(captured.map { schedule.due(captureTimeNs: $0, nowNs: 0) } == [0, 5_000_000, 15_000_000])
        schedule.startPass()
        // The next pass starts one mean gap (7.5 ms) after the last request.
        #expect(captured.map { schedule.due(captureTimeNs: $0, nowNs: 0) } == [22_500_000, 27_500_000, 37_500_000])
    }

    @Test func closedLoopHasNoScheduleUnlessCapped() {
        var free = ReplaySchedule(mode: .concurrency(4))
        #expect(free.due(captureTimeNs: 0, nowNs: 123) == nil)
        var capped = ReplaySchedule(mode: .concurrency(4), maxRate: 1000)
        #expect((0..<3).map { _ in capped.due(captureTimeNs: 0, nowNs: 0) } == [0, 1_000_000, 2_000_000])
        // After an idle stretch the bucket does not bank more than its burst.
        #expect(capped.due(captureTimeNs: 0, nowNs: 10_000_000) == 10_000_000)
        #expect(capped.due(captureTimeNs: 0, nowNs: 10_000_000) == 11_000_000)
    }

    @Test func maxRateCapsAFasterRate() {
        var schedule = ReplaySchedule(mode: .rate(10_000), maxRate: 1000)
        #expect((0..<3).map { _ in schedule.due(captureTimeNs: 0, nowNs: 0) } == [0, 1_000_000, 2_000_000])
    }
}

@Suite struct RequestBuilderTests {
    private let request = StoredRequest(
        id: 1, captureTimeNs: 0, method: "POST", target: "/v1/bid?x=1",
        headers: "Host: prod.example\r\nX-Keep: a\r\nAuthorization: secret\r\nConnection: keep-alive\r\nContent-Length: 99",
        body: Array("hello".utf8))

    private func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

    @Test func hostNamesTheTargetAndLengthIsRecomputed() throws {
        let targets = [try target(.baseline, 8001, "/pre"), try target(.candidate, 8002)]
        let encoded = RequestBuilder(targets: targets, rewrite: RequestRewrite()).encode(request)
        #expect(text(encoded[0]) == "POST /pre/v1/bid?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nX-Keep: a\r\nAuthorization: secret\r\nContent-Length: 5\r\n\r\nhello")
        #expect(text(encoded[1]).hasPrefix("POST /v1/bid?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8002\r\n"))
    }

    @Test func rewritesSetDeleteHostAndPath() throws {
        let rewrite = RequestRewrite(
            host: "shadow.example", setHeaders: [HeaderField("X-Keep", "b"), HeaderField("X-Shadow", "1")],
            deleteHeaders: ["authorization"], pathRewrites: [.init(from: "/v1/", to: "/v2/")])
        let encoded = RequestBuilder(targets: [try target(.baseline, 8001)], rewrite: rewrite).encode(request)
        #expect(text(encoded[0]) == "POST /v2/bid?x=1 HTTP/1.1\r\nHost: shadow.example\r\nX-Keep: b\r\nX-Shadow: 1\r\nContent-Length: 5\r\n\r\nhello")
        let kept = RequestBuilder(targets: [try target(.baseline, 8001)], rewrite: RequestRewrite(keepHost: true)).encode(request)
        #expect(text(kept[0]).contains("\r\nHost: prod.example\r\n"))
    }

    @Test func headerNamesAreMatchedIgnoringCase() throws {
        let odd = StoredRequest(
            id: 2, captureTimeNs: 0, method: "GET", target: "/",
            headers: "HOST: a.example\r\nTRANSFER-ENCODING: chunked\r\nX-Ünï: 1\r\nX-Ünï-Keep: 2\r\nno colon\r\n\r\nX-Last: 3",
            body: [])
        let rewrite = RequestRewrite(keepHost: true, deleteHeaders: ["x-ünï"])
        let encoded = RequestBuilder(targets: [try target(.baseline, 8001)], rewrite: rewrite).encode(odd)
        #expect(text(encoded[0]) == "GET / HTTP/1.1\r\nHost: a.example\r\nX-Ünï-Keep: 2\r\nX-Last: 3\r\n\r\n")
    }

    @Test func selectionFiltersAndSamplesStably() {
        let selection = RequestSelection(filter: RequestFilter(methods: ["GET"], pathPrefixes: ["/v1"], excludedPathPrefixes: ["/v1/status"]))
        #expect(selection.exclusion(id: 1, method: "POST", path: "/v1/bid") == .filteredOut)
        #expect(selection.exclusion(id: 1, method: "get", path: "/v2/bid") == .filteredOut)
        #expect(selection.exclusion(id: 1, method: "GET", path: "/v1/bid") == nil)
        #expect(selection.exclusion(id: 1, method: "GET", path: "/v1/status") == .filteredOut)
        let sample = RequestSelection(samplePercent: 25)
        let kept = (1...10_000).filter { sample.exclusion(id: Int64($0), method: "GET", path: "/") == nil }
        #expect(kept.count > 2_300 && kept.count < 2_700)
        #expect(kept == (1...10_000).filter { sample.exclusion(id: Int64($0), method: "GET", path: "/") == nil })
        #expect((1...1_000).allSatisfy { RequestSelection().exclusion(id: Int64($0), method: "GET", path: "/") == nil })
    }

    @Test func aRequestsPathEndsAtItsFirstQuestionMark() {
        #expect(RecordedRequest.path(of: "/v1/bid?a=1?b") == "/v1/bid")
        #expect(RecordedRequest.path(of: "/v1/bid") == "/v1/bid")
        #expect(RecordedRequest.path(of: "?a") == "")
        #expect(RecordedRequest.path(of: "") == "")
    }
}
