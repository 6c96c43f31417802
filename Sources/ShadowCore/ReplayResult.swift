/// A replay target role.
public enum Side: String, Sendable, CaseIterable, Codable {
    case baseline
    case candidate
    /// A second baseline instance, used to measure noise.
    case secondary
}

/// Why a replayed request got no usable response.
public enum ReplayErrorKind: String, Sendable, CaseIterable, Codable {
    case connectionRefused = "connection_refused"
    case connectionReset = "connection_reset"
    case timeout = "timeout"
    case invalidResponse = "invalid_response"
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
