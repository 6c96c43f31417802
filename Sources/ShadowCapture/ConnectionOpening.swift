import ShadowCore
import ShadowHTTP2

/// The first bytes of a connection, both directions in capture order, held until they tell which
/// protocol the connection speaks. Pure: it counts nothing and the owner routes the pieces.
///
/// Contract, at the start of a connection (`.opening`):
/// - A client direction that starts with the HTTP/2 client preface is HTTP/2 from its start. One
///   seen from its SYN that starts otherwise is HTTP/1 at its first byte (so HTTP/1.1 traffic is
///   held for no longer than its first packet).
/// - A direction first seen mid-stream (or after a hole) is HTTP/1 when it starts like a request
///   line (client) or `HTTP/` (server), HTTP/2 mid-connection when `HTTP2Sniffer` finds frames that
///   fit together within its first `scanBytes`, HTTP/1 when the sniffer rules HTTP/2 out. No port
///   is looked at.
/// - Server bytes of a connection seen from its start are held until the client's first byte
///   decides, so a server's SETTINGS sent before the client's preface reach the HTTP/2 decoder.
///
/// After a protocol switch (`.switched`: a 101 not to h2c, a 2xx to CONNECT) the connection is
/// HTTP/2 only if the client's bytes start with the preface (prior knowledge inside a tunnel),
/// else `.other`; server bytes never decide.
///
/// At most `maxHeldBytes` are held: `hold` gives the verdict of `finalVerdict()` once they are
/// reached. `finalVerdict()` (a direction ended, the connection closed) decides on what was seen,
/// HTTP/2 only on positive evidence.
struct ConnectionOpening {
    enum Context: Hashable, Sendable {
        case opening, switched
    }

    enum Verdict: Hashable, Sendable {
        case http1
        case http2(HTTP2StreamAssembler.Start)
        /// Neither: the connection's later bytes are not decoded.
        case other
    }

    /// Offsets searched for a frame header: one default-size frame and the header after it.
    static let scanBytes = HTTP2FrameReader.defaultMaxFrameSize + 9
    /// Bytes of a direction the sniffer can need to settle, at most.
    static let windowBytes = scanBytes + 2 * 9 + HTTP2FrameReader.defaultMaxFrameSize
    static let maxHeldBytes = 2 * windowBytes + 4096

    private struct Side {
        /// The direction's first bytes since its start or its last hole, up to `windowBytes`.
        var prefix: [UInt8] = []
        var sawGap = false
    }

    let context: Context
    private(set) var pieces: [(HTTP2Direction, StreamPiece)] = []
    private var heldBytes = 0
    private var client = Side()
    private var server = Side()
    private var clientFromStart = false
    private var serverFromStart = false

    init(context: Context) {
        self.context = context
    }

    /// Holds `piece`; `fromStart` says whether its direction was seen from its SYN. Returns the
    /// verdict once there is one (the pieces held so far then wait in `takePieces()`).
    mutating func hold(_ piece: StreamPiece, from direction: HTTP2Direction, fromStart: Bool) -> Verdict? {
        pieces.append((direction, piece))
        heldBytes += piece.byteCount
        var side = direction == .client ? client : server
        switch piece.content {
        case .gap:
            side = Side(prefix: [], sawGap: true)
        case .bytes(let buffer):
            let room = Self.windowBytes - side.prefix.count
            if room > 0 { side.prefix += buffer.readableBytesView.prefix(room) }
        }
        if direction == .client {
            client = side
            clientFromStart = fromStart && !side.sawGap
        } else {
            server = side
            serverFromStart = fromStart && !side.sawGap
        }
        if let verdict = verdict() { return verdict }
        return heldBytes >= Self.maxHeldBytes ? finalVerdict() : nil
    }

    /// The verdict with nothing more to come.
    func finalVerdict() -> Verdict {
        verdict() ?? (context == .opening ? .http1 : .other)
    }

    /// The pieces held, in capture order, each with its direction.
    mutating func takePieces() -> [(HTTP2Direction, StreamPiece)] {
        defer {
            pieces = []
            heldBytes = 0
        }
        return pieces
    }

    private func verdict() -> Verdict? {
        clientVerdict() ?? serverVerdict()
    }

    private func clientVerdict() -> Verdict? {
        let bytes = client.prefix
        guard !bytes.isEmpty else { return nil }
        let preface = HTTP2Sniffer.clientPreface
        if bytes.starts(with: preface) { return .http2(.connectionStart) }
        if bytes.count < preface.count && preface.starts(with: bytes) { return nil }
        if context == .switched { return .other }
        if clientFromStart || HTTP1Syntax.startsLikeRequestLine(bytes) { return .http1 }
        return Self.sniffFrames(bytes)
    }

    private func serverVerdict() -> Verdict? {
        let bytes = server.prefix
        guard context == .opening, !serverFromStart, !bytes.isEmpty else { return nil }
        let status = Array("HTTP/".utf8)
        if bytes.starts(with: status) { return .http1 }
        if bytes.count < status.count && status.starts(with: bytes) { return nil }
        return Self.sniffFrames(bytes)
    }

    private static func sniffFrames(_ bytes: [UInt8]) -> Verdict? {
        switch HTTP2Sniffer.sniff(bytes, maxFrameSize: HTTP2FrameReader.defaultMaxFrameSize, scanLimit: scanBytes) {
        case .preface: .http2(.connectionStart)
        case .frames: .http2(.midConnection)
        case .notHTTP2: .http1
        case .needMoreBytes: nil
        }
    }
}
