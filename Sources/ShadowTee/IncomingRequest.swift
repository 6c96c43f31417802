import Foundation
import NIOCore
import ShadowCore
import ShadowHTTP1

/// A request as read from a client: its raw bytes (forwarded unchanged) and its parsed head.
struct IncomingRequest {
    var head: HTTP1Head
    var rawHead: ByteBuffer
    /// Everything after the head as received, chunk framing included.
    var rawBody: ByteBuffer
    /// The de-chunked body, kept apart from `rawBody` only for chunked requests.
    var chunkedPayload: ByteBuffer?
    /// Wall clock of the head's arrival, ns since the Unix epoch (the stored `capture_time_ns`).
    var wallClockNs: Int64

    /// The body as recorded: de-chunked.
    var payload: ByteBuffer { chunkedPayload ?? rawBody }
}

/// Why the tee refuses a client's request itself; it closes the connection after answering.
enum ClientRefusal: Equatable {
    case malformed(String)
    case oversizedHeader(limit: Int)
    case tooManyHeaderFields(limit: Int)
    case oversizedBody(limit: Int)
    case headerTimeout
    case bodyTimeout

    var reason: DropReason {
        switch self {
        case .malformed: .malformedRequest
        case .oversizedHeader: .oversizedHeader
        case .tooManyHeaderFields: .tooManyHeaderFields
        case .oversizedBody: .oversizedBody
        case .headerTimeout: .headerTimeout
        case .bodyTimeout: .bodyTimeout
        }
    }

    /// The answer: nginx's, except that heads over a limit get 431 (RFC 6585) where nginx says 400,
    /// and that timeouts are answered 408 (RFC 9110 §15.5.9) where nginx closes without a word.
    var response: ByteBuffer {
        let (status, reason, body): (Int, String, String) = switch self {
        case .malformed(let detail): (400, "Bad Request", detail)
        case .oversizedHeader(let limit): (431, "Request Header Fields Too Large", "request head over \(limit) bytes")
        case .tooManyHeaderFields(let limit): (431, "Request Header Fields Too Large", "more than \(limit) header fields")
        case .oversizedBody(let limit): (413, "Payload Too Large", "request body over \(limit) bytes")
        case .headerTimeout: (408, "Request Timeout", "request head not received in time")
        case .bodyTimeout: (408, "Request Timeout", "request body stalled")
        }
        return TeeResponse.make(status, reason, body: body + "\n", close: true).bytes
    }
}

/// Reads whole requests from a client connection's bytes, bounded by the session's limits: heads
/// by `maxHeaderBytes` and `maxHeaderFields`, bodies by `maxBodyBytes` counted on the wire (refused
/// as soon as Content-Length, or the chunks so far, pass it; never buffered beyond it). After a
/// refusal it must not be fed again. It never writes: its owner answers.
struct RequestReader {
    enum Phase: Equatable {
        /// Nothing of a request has arrived.
        case betweenRequests
        case head
        case body
    }

    enum Outcome {
        /// The head asks for 100 Continue before its body.
        case continueExpected
        case refuse(ClientRefusal)
        case complete(IncomingRequest)
    }

    private var framer: HTTP1Framer
    private let limits: TeeLimits
    /// The request being read, from its head to its end.
    private var current: IncomingRequest?

    init(limits: TeeLimits) {
        framer = HTTP1Framer(isRequest: true, maxHeadBytes: limits.maxHeaderBytes, maxHeadFields: limits.maxHeaderFields)
        self.limits = limits
    }

    var phase: Phase {
        if current != nil { return .body }
        return framer.isIdle ? .betweenRequests : .head
    }

    /// The next thing `input` completes, consuming its bytes; nil when it needs more.
    mutating func next(_ input: inout ByteBuffer) -> Outcome? {
        do {
            while let event = try framer.next(&input) {
                switch event {
                case .head(let head, let raw):
                    if case .length(let length) = head.framing, length > limits.maxBodyBytes {
                        return .refuse(.oversizedBody(limit: limits.maxBodyBytes))
                    }
                    current = IncomingRequest(
                        head: head, rawHead: raw, rawBody: ByteBuffer(),
                        chunkedPayload: head.framing == .chunked ? ByteBuffer() : nil, wallClockNs: TeeClock.wallNs())
                    if head.expectsContinue { return .continueExpected }
                case .data(let bytes), .framing(let bytes):
                    guard append(bytes, isPayload: event.isPayload) else { return .refuse(.oversizedBody(limit: limits.maxBodyBytes)) }
                case .end:
                    guard let request = current else { continue }
                    current = nil
                    return .complete(request)
                }
            }
            return nil
        } catch {
            let refusal: ClientRefusal = switch error {
            case .headTooLarge: .oversizedHeader(limit: limits.maxHeaderBytes)
            case .tooManyFields: .tooManyHeaderFields(limit: limits.maxHeaderFields)
            case .malformed(let detail): .malformed(detail)
            }
            return .refuse(refusal)
        }
    }

    /// Appends body bytes; false when they go over the limit.
    private mutating func append(_ bytes: ByteBuffer, isPayload: Bool) -> Bool {
        guard current!.rawBody.readableBytes + bytes.readableBytes <= limits.maxBodyBytes else { return false }
        Self.append(bytes, to: &current!.rawBody)
        if isPayload && current!.chunkedPayload != nil { Self.append(bytes, to: &current!.chunkedPayload!) }
        return true
    }

    /// Appends without copying when `buffer` is still empty (the common case: one read holds the body).
    static func append(_ bytes: ByteBuffer, to buffer: inout ByteBuffer) {
        if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeImmutableBuffer(bytes) }
    }

    /// The connection closed: whether a request was cut short.
    mutating func closed() -> Bool {
        defer { current = nil }
        return framer.finish() == .truncated || current != nil
    }
}

enum TeeClock {
    static func wallNs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    static func monotonicNs() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }
}

extension SocketAddress {
    /// `address:port`, IPv6 in brackets, as the pcap capture stores endpoints.
    var endpointText: String {
        let ip = ipAddress ?? "?"
        let port = self.port ?? 0
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// Numbers client connections across event loops: 1, 2, ...
final class ConnectionNumbering: @unchecked Sendable {
    private let lock = NSLock()
    private var last: Int64 = 0

    func next() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        last += 1
        return last
    }
}

/// What every client connection of one tee session shares.
struct TeeSession: Sendable {
    var policy: RecordingPolicy
    var limits: TeeLimits
    var tally: TeeTally
    /// The listening address as text, stored as each mirror exchange's `server`.
    var listenLabel: String
    var numbering = ConnectionNumbering()

    /// Numbers a new client connection and names its peer (`address:port`), counting it.
    func opened(_ channel: Channel) -> (number: Int64, peer: String) {
        tally.add("client_connections")
        return (numbering.next(), channel.remoteAddress?.endpointText ?? "?")
    }
}

/// A response the tee makes itself (100, 204, 400, 408, 413, 431, 502, 504), as bytes to write.
enum TeeResponse {
    static let `continue` = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")

    static func make(_ status: Int, _ reason: String, body: String, close: Bool) -> (head: ByteBuffer, bytes: ByteBuffer, body: ByteBuffer) {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        if !body.isEmpty { head += "Content-Type: text/plain\r\n" }
        if status != 204 { head += "Content-Length: \(body.utf8.count)\r\n" }
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        return (ByteBuffer(string: head), ByteBuffer(string: head + body), ByteBuffer(string: body))
    }
}
