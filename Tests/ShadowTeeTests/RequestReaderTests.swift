import NIOCore
import ShadowCore
import Testing

@testable import ShadowTee

@Suite struct RequestReaderTests {
    private static func limits(maxBodyBytes: Int = 100) -> TeeLimits {
        var limits = TeeLimits()
        limits.maxBodyBytes = maxBodyBytes
        limits.maxHeaderBytes = 1000
        limits.maxHeaderFields = 5
        return limits
    }

    /// Every outcome `text` gives, fed in one read, as short names.
    private static func outcomes(_ text: String, limits: TeeLimits = limits()) -> [String] {
        var reader = RequestReader(limits: limits)
        var input = ByteBuffer(string: text)
        var seen: [String] = []
        while let outcome = reader.next(&input) {
            switch outcome {
            case .continueExpected: seen.append("continue")
            case .complete(let request): seen.append("complete \(request.head.target) \(request.payload.readableBytes)")
            case .refuse(let refusal):
                seen.append("refuse \(refusal.reason.rawValue)")
                return seen
            }
        }
        return seen
    }

    @Test func aBodyOverTheLimitIsRefusedAsSoonAsItsLengthSaysSo() {
        #expect(Self.outcomes("POST /a HTTP/1.1\r\nContent-Length: 101\r\n\r\n") == ["refuse oversized_body"])
        #expect(Self.outcomes("POST /a HTTP/1.1\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
                == ["continue"])
        #expect(Self.outcomes("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n")
                == ["complete /a 3", "complete /b 0"])
    }

    @Test func aChunkedBodyIsRefusedOnceItsChunksPassTheLimit() {
        let head = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        // The limit counts the body as it comes on the wire, chunk lines included.
        #expect(Self.outcomes(head + "50\r\n\(String(repeating: "x", count: 80))\r\n0\r\n\r\n") == ["complete /c 80"])
        #expect(Self.outcomes(head + "50\r\n\(String(repeating: "x", count: 80))\r\n20\r\n") == [], "90 bytes so far")
        #expect(Self.outcomes(head + "50\r\n\(String(repeating: "x", count: 80))\r\n20\r\nyyyyyyyyyyy") == ["refuse oversized_body"])
    }

    @Test func eachRefusalIsAnsweredAsNginxWouldWithTheDocumentedExceptions() {
        let answers: [(ClientRefusal, String)] = [
            (.malformed("invalid request line"), "HTTP/1.1 400 Bad Request"),
            (.oversizedHeader(limit: 1000), "HTTP/1.1 431 Request Header Fields Too Large"),
            (.tooManyHeaderFields(limit: 5), "HTTP/1.1 431 Request Header Fields Too Large"),
            (.oversizedBody(limit: 100), "HTTP/1.1 413 Payload Too Large"),
            (.headerTimeout, "HTTP/1.1 408 Request Timeout"),
            (.bodyTimeout, "HTTP/1.1 408 Request Timeout"),
        ]
        for (refusal, statusLine) in answers {
            let text = String(buffer: refusal.response)
            #expect(text.hasPrefix(statusLine + "\r\n") && text.contains("\r\nConnection: close\r\n"), "\(text)")
        }
        #expect(Self.outcomes("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 6) + "\r\n") == ["refuse too_many_header_fields"])
        #expect(Self.outcomes("GET / HTTP/1.1\r\nX: \(String(repeating: "y", count: 1000))") == ["refuse oversized_header"])
        #expect(Self.outcomes("\u{16}\u{3}\u{1}") == ["refuse malformed_request"])
    }

    @Test func thePhaseSaysWhatTheConnectionWaitsFor() {
        var reader = RequestReader(limits: Self.limits())
        #expect(reader.phase == .betweenRequests)
        var input = ByteBuffer(string: "POST /a HTTP/1.1\r\nHost")
        #expect(reader.next(&input) == nil)
        #expect(reader.phase == .head)
        input = ByteBuffer(string: ": x\r\nContent-Length: 2\r\n\r\na")
        #expect(reader.next(&input) == nil)
        #expect(reader.phase == .body)
        input = ByteBuffer(string: "b")
        guard case .complete = reader.next(&input) else {
            Issue.record("the request completes")
            return
        }
        #expect(reader.phase == .betweenRequests)
        #expect(reader.closed() == false, "a connection closed between requests cut nothing short")
    }
}
