import ShadowCore
/// Which way bytes go on a connection.
public enum HTTP2Direction: Hashable, Sendable {
    /// From the client (the side that sends the preface) to the server.
    case client
    case server

    public var other: Self { self == .client ? .server : .client }
}

/// Where a DATA frame's bytes begin in its message's body, and when it arrived.
public struct HTTP2BodyMark: Hashable, Sendable {
    public var offset: Int
    public var timestampNs: Int64
}

/// One side of a stream: headers, body, trailers.
public struct HTTP2Message: Hashable, Sendable {
    public var headers: [HeaderField] = []
    /// Whether the HEADERS that open this message were seen (false for a stream already open when
    /// the capture began, or whose header block could not be decoded).
    public var sawHeaders = false
    /// Body bytes kept, at most `HTTP2Limits.maxBodyBytes`.
    public var body: [UInt8] = []
    /// Body bytes seen, kept or not.
    public var bodyBytes = 0
    public var truncated = false
    public var trailers: [HeaderField] = []
    /// Where each DATA frame starts in the body (at most `maxBodyMarks` of them).
    public var bodyMarks: [HTTP2BodyMark] = []
    /// 1xx responses skipped before the final one.
    public var informational = 0
    /// Placeholders decoded for HPACK entries from before the capture.
    public var unknownHeaderEntries = 0
    /// Whether END_STREAM was seen.
    public var ended = false
    /// Whether bytes of this message may be missing (a gap, or a lost header block).
    public var incomplete = false

    public static let maxBodyMarks = 4096

    public init() {}
}

/// How a stream ended.
public enum HTTP2StreamOutcome: Hashable, Sendable {
    /// The response ended with END_STREAM.
    case complete
    /// RST_STREAM with its error code, sent by `by`.
    case reset(errorCode: UInt32, by: HTTP2Direction)
    /// Above the last stream id of a GOAWAY (with its error code): never processed.
    case goAway(errorCode: UInt32)
    /// Still open when the connection's bytes ended.
    case unfinished
}

/// One HTTP/2 stream of a connection as the capture saw it: a request and its response.
///
/// Times are the capture timestamps (nanoseconds) of the pieces that completed the frames.
public struct HTTP2Exchange: Hashable, Sendable {
    public var streamID: UInt32
    /// A server push: `request` holds the PUSH_PROMISE headers; never to be replayed.
    public var pushed = false
    /// The stream whose PUSH_PROMISE announced this one.
    public var promisedOn: UInt32?
    /// Whether the stream was already open when the capture (or a direction after a gap) began.
    public var startedBeforeCapture = false
    public var request = HTTP2Message()
    public var response = HTTP2Message()
    public var outcome: HTTP2StreamOutcome = .unfinished
    public var requestStartNs: Int64?
    public var requestEndNs: Int64?
    public var firstResponseByteNs: Int64?
    public var responseEndNs: Int64?

    public init(streamID: UInt32) {
        self.streamID = streamID
    }

    /// Request end to response end, when both were seen.
    public var latencyNs: Int64? {
        guard let end = requestEndNs, let response = responseEndNs else { return nil }
        return response - end
    }

    /// Request end to the first response frame, when both were seen.
    public var timeToFirstByteNs: Int64? {
        guard let end = requestEndNs, let first = firstResponseByteNs else { return nil }
        return first - end
    }

    /// The request's `:method`, `:path` and `:authority`, when decoded.
    public var method: String? { request.headers.first(":method") }
    public var path: String? { request.headers.first(":path") }
    public var authority: String? { request.headers.first(":authority") }
    /// The response's `:status`.
    public var status: Int? { response.headers.first(":status").flatMap { Int($0) } }
}
