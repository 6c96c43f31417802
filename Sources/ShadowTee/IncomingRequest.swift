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

/// Reads whole requests from a client connection's bytes, bounded by the session's limits, and
/// says what the tee answers itself: 100 Continue, 400 for a request that cannot be read
/// (`malformed_request`, `oversized_header`), 413 for a body over `maxBodyBytes` counted on the wire
/// (`oversized_body`; the rest of that request is read and discarded, so that the client reads the
/// 413 instead of a reset). It never writes: the owner writes what it returns, outside its
/// mutating calls (a failed write may close the channel and re-enter the owner).
struct RequestReader {
    private var framer: HTTP1Framer
    private let maxBodyBytes: Int
    private let tally: TeeTally
    /// The request being read, until its end.
    private var current: IncomingRequest?
    private var rejecting = false

    init(session: TeeSession) {
        framer = HTTP1Framer(isRequest: true, maxHeadBytes: session.limits.maxHeaderBytes)
        maxBodyBytes = session.limits.maxBodyBytes
        tally = session.tally
    }

    /// Whether part of a request has been read.
    var isReading: Bool { current != nil || rejecting || !framer.isIdle }

    enum Outcome {
        /// Write these bytes; reading goes on.
        case respond(ByteBuffer)
        /// Close the connection, after writing these bytes when there are any.
        case refuse(ByteBuffer?)
        case complete(IncomingRequest)
    }

    /// The next thing `input` completes, consuming its bytes; nil when it needs more. The tee's own
    /// answers are only returned when `canRespond` (no other response is being written); otherwise
    /// a request that needs one is refused without an answer.
    mutating func next(_ input: inout ByteBuffer, canRespond: Bool) -> Outcome? {
        do {
            while let event = try framer.next(&input) {
                switch event {
                case .head(let head, let raw):
                    current = IncomingRequest(
                        head: head, rawHead: raw, rawBody: ByteBuffer(),
                        chunkedPayload: head.framing == .chunked ? ByteBuffer() : nil, wallClockNs: TeeClock.wallNs())
                    if head.expectsContinue && canRespond { return .respond(TeeResponse.continue) }
                case .data(let bytes), .framing(let bytes):
                    guard current != nil, !append(bytes, isPayload: event.isPayload) else { continue }
                    tally.add(.oversizedBody)
                    return canRespond ? .respond(TeeResponse.payloadTooLarge(limit: maxBodyBytes)) : .refuse(nil)
                case .end:
                    if rejecting {
                        rejecting = false
                        return .refuse(nil)
                    }
                    guard let request = current else { continue }
                    current = nil
                    return .complete(request)
                }
            }
            return nil
        } catch {
            tally.add(error == .headTooLarge ? .oversizedHeader : .malformedRequest)
            return .refuse(canRespond ? TeeResponse.make(400, "Bad Request", body: "\(error)\n", close: true).bytes : nil)
        }
    }

    /// Appends body bytes; false (dropping the request) when they go over the limit.
    private mutating func append(_ bytes: ByteBuffer, isPayload: Bool) -> Bool {
        guard current!.rawBody.readableBytes + bytes.readableBytes <= maxBodyBytes else {
            current = nil
            rejecting = true
            return false
        }
        Self.append(bytes, to: &current!.rawBody)
        if isPayload && current!.chunkedPayload != nil { Self.append(bytes, to: &current!.chunkedPayload!) }
        return true
    }

    /// Appends without copying when `buffer` is still empty (the common case: one read holds the body).
    static func append(_ bytes: ByteBuffer, to buffer: inout ByteBuffer) {
        if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeImmutableBuffer(bytes) }
    }

    /// The connection closed: counts a request cut short.
    mutating func closed(session: TeeSession) {
        if current != nil || framer.finish() == .truncated { session.tally.add(.clientClosed) }
        current = nil
        rejecting = false
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
    var recorder: any ExchangeRecorder
    /// The listening address as text, stored as each mirror exchange's `server`.
    var listenLabel: String
    var numbering = ConnectionNumbering()

    /// Numbers a new client connection and names its peer (`address:port`), counting it.
    func opened(_ channel: Channel) -> (number: Int64, peer: String) {
        tally.add("client_connections")
        return (numbering.next(), channel.remoteAddress?.endpointText ?? "?")
    }
}

/// A response the tee makes itself (100, 204, 400, 413, 502, 504), as bytes to write.
enum TeeResponse {
    static let `continue` = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")

    /// Closes a client connection the tee refuses, once `answer` (if any) went out.
    static func close(_ context: ChannelHandlerContext, after answer: ByteBuffer?) {
        guard let answer else { return context.close(promise: nil) }
        let channel = context.channel
        context.writeAndFlush(NIOAny(answer)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// 413 for a body over `limit` bytes; the connection closes after the request's end.
    static func payloadTooLarge(limit: Int) -> ByteBuffer {
        make(413, "Payload Too Large", body: "request body over \(limit) bytes\n", close: true).bytes
    }

    static func make(_ status: Int, _ reason: String, body: String, close: Bool) -> (head: ByteBuffer, bytes: ByteBuffer, body: ByteBuffer) {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        if !body.isEmpty { head += "Content-Type: text/plain\r\n" }
        if status != 204 { head += "Content-Length: \(body.utf8.count)\r\n" }
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        return (ByteBuffer(string: head), ByteBuffer(string: head + body), ByteBuffer(string: body))
    }
}
