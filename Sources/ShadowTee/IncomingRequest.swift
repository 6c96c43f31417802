import Foundation
import NIOCore
import NIOHTTP1
import ShadowCore

/// A request as it is read from a client: its head, the body so far and when it began.
struct IncomingRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer
    /// Wall clock of the head's arrival, ns since the Unix epoch (the stored `capture_time_ns`).
    var wallClockNs: Int64

    init(head: HTTPRequestHead, allocator: ByteBufferAllocator) {
        self.head = head
        let expected = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        body = allocator.buffer(capacity: min(max(expected, 0), 1 << 20))
        wallClockNs = TeeClock.wallNs()
    }

    /// Appends `part`; false when the body would exceed `limit` (the part is then not kept).
    mutating func append(_ part: ByteBuffer, limit: Int) -> Bool {
        guard body.readableBytes + part.readableBytes <= limit else { return false }
        var part = part
        body.writeBuffer(&part)
        return true
    }

    /// The record of this request, with `target` in place of the URI when given.
    func recorded(target: String? = nil, headers: [HeaderField]) -> RecordedRequest {
        RecordedRequest(
            method: head.method.rawValue, target: target ?? head.uri,
            version: "HTTP/\(head.version.major).\(head.version.minor)", headers: headers,
            body: Array(body.readableBytesView))
    }
}

/// Assembles requests from a client connection's parts, bounded by `maxBodyBytes`.
///
/// A request whose body goes over the limit is answered 413 at once (counted `oversized_body`);
/// the rest of it is read and discarded, and the connection closes at its end, so that the
/// client reads the 413 instead of a reset. When an earlier response is still being written
/// (`canRespond` false) the connection is closed at once instead.
struct RequestReader {
    /// The request being read, until its end.
    private(set) var current: IncomingRequest?
    private var rejecting = false

    var isReading: Bool { current != nil || rejecting }

    enum Outcome {
        case reading
        case complete(IncomingRequest)
        /// A rejected request has been read to its end: close the connection.
        case close
    }

    /// Takes one part; says whether it completed a request. Never closes the channel itself (that
    /// would re-enter the handler while it is reading).
    mutating func read(
        _ part: HTTPServerRequestPart, context: ChannelHandlerContext, session: TeeSession, canRespond: Bool = true
    ) -> Outcome {
        switch part {
        case .head(let head):
            current = IncomingRequest(head: head, allocator: context.channel.allocator)
        case .body(let bytes):
            guard current != nil else { return .reading }
            if !current!.append(bytes, limit: session.limits.maxBodyBytes) {
                current = nil
                session.tally.add(.oversizedBody)
                guard canRespond else { return .close }
                rejecting = true
                let message = ByteBuffer(string: "request body over \(session.limits.maxBodyBytes) bytes\n")
                let head = HTTPResponseHead.tee(.payloadTooLarge, bodyBytes: message.readableBytes, close: true)
                context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(message))), promise: nil)
                context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
            }
        case .end:
            if rejecting {
                rejecting = false
                return .close
            }
            defer { current = nil }
            return current.map { .complete($0) } ?? .reading
        }
        return .reading
    }

    /// The connection closed: counts a request cut short.
    mutating func closed(session: TeeSession) {
        if current != nil { session.tally.add(.clientClosed) }
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

extension Array where Element == HeaderField {
    init(_ headers: HTTPHeaders) {
        self = headers.map { HeaderField($0.name, $0.value) }
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

    /// Counts a parser error from a client, which NIO's error handler has answered with 400.
    func countClientError(_ error: Error) {
        if let error = error as? HTTPParserError, error == .headerOverflow {
            tally.add(.oversizedHeader)
        } else {
            tally.add(.malformedRequest)
        }
    }
}

extension HTTPResponseHead {
    /// A short response the tee makes itself (413, 502, 504), closing the connection when asked.
    static func tee(_ status: HTTPResponseStatus, bodyBytes: Int, close: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders([("Content-Type", "text/plain"), ("Content-Length", String(bodyBytes))])
        if close { headers.add(name: "Connection", value: "close") }
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }
}
