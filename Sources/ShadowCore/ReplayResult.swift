/// A replay target role.
public enum Side: String, Sendable, CaseIterable, Codable {
    case baseline
    case candidate
    /// A second baseline instance, used to measure noise.
    case secondary
}

/// Why a replayed request got no usable response.
public enum ReplayErrorKind: String, Sendable, CaseIterable, Codable {
    /// The connect was refused (nobody listens on the target's port).
    case connectionRefused = "connection_refused"
    /// The target reset the connection (TCP RST), before or during its response.
    case connectionReset = "connection_reset"
    /// The target closed the connection (FIN) before its response was complete: before any byte,
    /// after the head, or part way through the body.
    case incompleteResponse = "incomplete_response"
    /// No complete response within the per-request timeout (or no connection within the connect timeout).
    case timeout = "timeout"
    /// Bytes that cannot be framed as an HTTP/1.1 response.
    case invalidResponse = "invalid_response"
    /// A body, declared or received, over the limit on response bodies.
    case bodyTooLarge = "body_too_large"
    case other = "other"
}

/// What one side answered to one replayed exchange.
public struct SideResult: Sendable, Hashable {
    public var exchangeID: Int64
    public var side: Side
    /// Nil when the request failed before a response head arrived.
    public var response: RecordedResponse?
    /// Time to first byte and to last byte, from the send instant, monotonic, ns.
    public var firstByteNs: Int64?
    public var latencyNs: Int64?
    public var error: ReplayErrorKind?
    public var errorMessage: String?

    public init(
        exchangeID: Int64, side: Side, response: RecordedResponse?, firstByteNs: Int64?, latencyNs: Int64?,
        error: ReplayErrorKind? = nil, errorMessage: String? = nil
    ) {
        self.exchangeID = exchangeID
        self.side = side
        self.response = response
        self.firstByteNs = firstByteNs
        self.latencyNs = latencyNs
        self.error = error
        self.errorMessage = errorMessage
    }
}
