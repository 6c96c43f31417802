import NIOCore
import ShadowCore
import Testing

@testable import ShadowHTTP1

/// What a framer reported for one stream: the bytes of every event in order, the payloads, heads and ends.
private struct Framed {
    var wire: [UInt8] = []
    var payload: [UInt8] = []
    var heads: [HTTP1Head] = []
    var ends = 0
    var error: HTTP1FramingError?
}

/// Feeds `text` to a framer in pieces cut at `cuts` (byte offsets), collecting every event.
private func frame(
    _ text: String, isRequest: Bool = true, answering: HTTP1RequestKind = .other, cuts: [Int] = [], maxHeadBytes: Int = 4096,
    maxHeadFields: Int = .max
) -> Framed {
    let bytes = Array(text.utf8)
    var framer = HTTP1Framer(isRequest: isRequest, maxHeadBytes: maxHeadBytes, maxHeadFields: maxHeadFields)
    framer.answering = answering
    var framed = Framed()
    var start = 0
    for end in cuts.filter({ $0 > 0 && $0 < bytes.count }).sorted() + [bytes.count] where end > start {
        var input = ByteBuffer(bytes: bytes[start..<end])
        start = end
        do {
            while let event = try framer.next(&input) {
                switch event {
                case .head(let head, let raw):
                    framed.heads.append(head)
                    framed.wire += raw.readableBytesView
                case .data(let data):
                    framed.wire += data.readableBytesView
                    framed.payload += data.readableBytesView
                case .framing(let bytes):
                    framed.wire += bytes.readableBytesView
                case .end:
                    framed.ends += 1
                }
            }
        } catch {
            framed.error = error
            return framed
        }
    }
    if !isRequest && framer.finish() == .endOfBody { framed.ends += 1 }
    return framed
}

@Suite struct HTTP1FramerTests {
    static let chunked = "POST /bid?x=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"

    @Test func contentLengthRequestIsOneHeadItsBodyAndAnEnd() {
        let text = "POST /openrtb2/auction HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        let framed = frame(text)
        #expect(framed.error == nil)
        #expect(framed.wire == Array(text.utf8))
        #expect(framed.payload == Array("hello".utf8))
        #expect(framed.ends == 1)
        #expect(framed.heads.first?.method == "POST")
        #expect(framed.heads.first?.target == "/openrtb2/auction")
        #expect(framed.heads.first?.keepAlive == true)
    }

    @Test func chunkedRequestIsForwardedByteForByteAndDeChunkedForTheRecord() {
        let framed = frame(Self.chunked)
        #expect(framed.error == nil)
        #expect(framed.wire == Array(Self.chunked.utf8))
        #expect(framed.payload == Array("hello world".utf8))
        #expect(framed.ends == 1)
    }

    @Test func everySplitOfPipelinedMessagesFramesTheSame() {
        let text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + Self.chunked
            + "\r\nPOST /c HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"
        let whole = frame(text)
        #expect(whole.error == nil)
        #expect(whole.ends == 3)
        #expect(whole.heads.map(\.target) == ["/a", "/bid?x=1", "/c"])
        #expect(whole.heads.map(\.keepAlive) == [true, true, true])
        // The empty line between messages is skipped, not forwarded.
        #expect(whole.wire.count == text.utf8.count - 2)
        var random = SplitMix64(seed: 42)
        for round in 0..<300 {
            let cuts = round < 50 ? [round * 3, round * 3 + 1] : (0..<4).map { _ in Int(random.next() % UInt64(text.utf8.count)) }
            let split = frame(text, cuts: cuts)
            #expect(split.error == nil && split.wire == whole.wire && split.payload == whole.payload && split.ends == 3, "cuts \(cuts)")
        }
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both Transfer-Encoding and Content-Length"),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "differing Content-Length values"),
        ("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", "differing Content-Length values"),
        ("POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "request Transfer-Encoding does not end in chunked"),
        ("GET / HTTP/1.1\r\nX-A: 1\r\n continued\r\n\r\n", "obsolete line folding"),
        ("GET / HTTP/1.1\r\nX-A : 1\r\n\r\n", "invalid header field"),
        ("GET / HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n", "control byte in a header value"),
        ("GET / HTTP/2.0\r\n\r\n", "not HTTP/1.x"),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "not HTTP/1.x"),
        ("GET / HTTP/1.2\r\n\r\n", "not HTTP/1.0 or HTTP/1.1"),
        ("GET /a b HTTP/1.1\r\n\r\n", "not HTTP/1.x"),
        ("\u{16}\u{3}\u{1}\u{0}\u{a5}\u{1}\r\n\r\n", "invalid request line"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data longer than its size"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;\(String(repeating: "e", count: 5000))\r\n", "chunk size line too long"),
        ("GET / HTTP/1.1\nHost: x\r\n\r\n", "bare LF line ending"),
        ("GET / HTTP/1.1\r\nHost: x\n\n", "bare LF line ending"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", "bare LF line ending"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", "bare LF line ending"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n", "bare LF line ending"),
    ])
    func ambiguousOrInvalidRequestsAreMalformed(text: String, reason: String) {
        #expect(frame(text).error == .malformed(reason))
        #expect(frame(text, cuts: Array(stride(from: 1, to: text.utf8.count, by: 1))).error == .malformed(reason))
    }

    @Test func headsOverTheLimitAreRefusedWhetherWholeOrInPieces() {
        let text = "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 5000))\r\n\r\n"
        #expect(frame(text).error == .headTooLarge)
        #expect(frame(text, cuts: [100, 2000, 4000]).error == .headTooLarge)
        #expect(frame(String(text.prefix(4500))).error == .headTooLarge)
        #expect(frame(text, maxHeadBytes: 8192).error == nil)
    }

    @Test func headsWithTooManyFieldsAreRefusedAsSoonAsTheLimitIsPassed() {
        let fields = (0..<11).map { "X-\($0): v\r\n" }.joined()
        #expect(frame("GET / HTTP/1.1\r\n\(fields)\r\n", maxHeadFields: 10).error == .tooManyFields)
        #expect(frame("GET / HTTP/1.1\r\n\(fields)\r\n", maxHeadFields: 11).error == nil)
        // Before the head ends: once the eleventh field's line is complete, in one read or byte by byte.
        let unfinished = "GET / HTTP/1.1\r\n" + fields
        #expect(frame(unfinished, maxHeadFields: 10).error == .tooManyFields)
        #expect(frame(unfinished, cuts: Array(1..<unfinished.utf8.count), maxHeadFields: 10).error == .tooManyFields)
        #expect(frame(String(unfinished.dropLast(2)), cuts: Array(1..<unfinished.utf8.count), maxHeadFields: 10).error == nil)
        let trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\(fields)\r\n"
        #expect(frame(trailers, maxHeadFields: 10).error == .tooManyFields)
        #expect(frame(trailers, maxHeadFields: 11).error == nil)
    }

    @Test func requestsThatCannotBeHTTPAreRefusedBeforeTheirHeadEnds() {
        #expect(frame("\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}").error == .malformed("invalid request line"))
        #expect(frame(String(repeating: "A", count: 40)).error == .malformed("invalid request line"))
        #expect(frame("GET /a b HTTP/1.1\r\nHost: x\r\n").error == .malformed("not HTTP/1.x"))
        #expect(frame("GET / HTTP/1.1\nHost: x").error == .malformed("bare LF line ending"))
        let partial = frame("POST /openrtb2/auction HTTP/1.1\r\nHost: x\r\nContent-", cuts: [1, 3, 4, 20])
        #expect(partial.error == nil && partial.heads.isEmpty, "a valid start waits for the rest")
    }

    @Test func responseFramingFollowsItsRequestAndStatus() {
        let headResponse = frame("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", isRequest: false, answering: .head)
        #expect(headResponse.ends == 1 && headResponse.payload.isEmpty)
        let noContent = frame("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", isRequest: false)
        #expect(noContent.ends == 2 && noContent.heads.map(\.status) == [204, 304])
        let interim = frame("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", isRequest: false)
        #expect(interim.heads.map(\.status) == [100, 200] && interim.ends == 2 && interim.payload == Array("ok".utf8))
        let untilClose = frame("HTTP/1.0 200 OK\r\n\r\nstreamed until close", isRequest: false)
        #expect(untilClose.ends == 1 && untilClose.payload == Array("streamed until close".utf8))
        #expect(untilClose.heads.first?.keepAlive == false)
        let noReason = frame("HTTP/1.1 200\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", isRequest: false)
        #expect(noReason.heads.first?.status == 200 && noReason.heads.first?.keepAlive == false && noReason.ends == 1)
        #expect(frame("HTTP/1.1 2x0 OK\r\n\r\n", isRequest: false).error == .malformed("invalid status code"))
        #expect(frame("garbage\r\n\r\n", isRequest: false).error == .malformed("invalid status line"))
    }

    @Test func aStreamCutMidMessageIsTruncated() {
        var framer = HTTP1Framer(isRequest: false, maxHeadBytes: 4096)
        var input = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        while (try? framer.next(&input)) ?? nil != nil {}
        #expect(framer.finish() == .truncated)
        var idle = HTTP1Framer(isRequest: true, maxHeadBytes: 4096)
        #expect(idle.finish() == .clean)
    }

    @Test func fieldsAreRecordedInWireOrderAndCaseAndLookedUpCaseInsensitively() throws {
        let head = ByteBuffer(string: "POST /x HTTP/1.1\r\nHost: a\r\nX-Request-ID:  r-1 \r\nx-request-id: r-2\r\n\r\n")
        let stored = try #require(HTTP1Head.storedFieldText(of: head, isRequest: true))
        #expect(stored.head.version == "HTTP/1.1")
        #expect([HeaderField](wireText: String(decoding: stored.text, as: UTF8.self))
                == [HeaderField("Host", "a"), HeaderField("X-Request-ID", "r-1"), HeaderField("x-request-id", "r-2")])
        #expect(HTTP1Head.value(of: "x-request-ID", in: head) == "r-1")
        #expect(HTTP1Head.value(of: "Cookie", in: head) == nil)
    }

    @Test func storedFieldTextIsTheWireTextOfTheFields() throws {
        let heads = [
            ("POST /x HTTP/1.1\r\nHost: a\r\nX-Request-ID:  r-1 \r\nx-request-id:r-2\r\nEmpty:\r\n\r\n",
             "Host: a\r\nX-Request-ID: r-1\r\nx-request-id: r-2\r\nEmpty: "),
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Obs: caf\u{E9}\r\n\r\n", "Content-Length: 0\r\nX-Obs: caf\u{E9}"),
            ("HTTP/1.0 204 No Content\r\n\r\n", ""),
        ]
        for (text, expected) in heads {
            let stored = try #require(HTTP1Head.storedFieldText(of: ByteBuffer(string: text), isRequest: !text.hasPrefix("HTTP/")))
            #expect(String(decoding: stored.text, as: UTF8.self) == expected, "\(text)")
            #expect(stored.redacted == 0)
        }
        // Obs-text that is not UTF-8 is stored repaired, as a string of the field would hold it.
        var latin1 = ByteBuffer(string: "GET / HTTP/1.1\r\nX-Name: caf")
        latin1.writeBytes([0xE9, 0x0D, 0x0A, 0x0D, 0x0A])
        let stored = try #require(HTTP1Head.storedFieldText(of: latin1, isRequest: true))
        #expect(stored.text == Array("X-Name: caf\u{FFFD}".utf8))
        #expect(HTTP1Head.storedFieldText(of: ByteBuffer(string: "GET / HTTP/1.1\r\nbad line\r\n\r\n"), isRequest: true) == nil)
    }

    @Test func storedFieldTextRedactsNamedFieldsCaseInsensitively() throws {
        let head = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\nCOOKIE: s=1\r\nCookie: t=2\r\n\r\n")
        let stored = try #require(HTTP1Head.storedFieldText(
            of: head, isRequest: true, redacting: [Array("authorization".utf8), Array("cookie".utf8)], replacement: Array("[r]".utf8)))
        #expect(stored.redacted == 3)
        #expect(String(decoding: stored.text, as: UTF8.self) == "Host: a\r\nAuthorization: [r]\r\nCOOKIE: [r]\r\nCookie: [r]")
    }
}
