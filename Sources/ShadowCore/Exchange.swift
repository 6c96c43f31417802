/// The wire protocol an exchange was carried on. Raw values are the names stored and shown.
public enum WireProtocol: String, Sendable, Codable, CaseIterable {
    case http1 = "http/1.1"
    /// One HTTP/2 stream (h2c in captures): method `:method`, target `:path`, version `HTTP/2`.
    case h2 = "h2"
    /// One gRPC call: an HTTP/2 stream whose request `content-type` is `application/grpc...`.
    /// The method stays the HTTP method (`POST`) and the target is the RPC path
    /// (`/package.Service/Method`); bodies keep gRPC's length-prefixed messages as sent.
    case grpc = "grpc"
}

/// One request and, when it was seen, production's response to it.
///
/// Times are nanoseconds: `captureTimeNs` since the Unix epoch (the capture's clock),
/// `productionLatencyNs` from the packet that completed the request to the packet that
/// completed the response.
public struct CapturedExchange: Sendable, Hashable {
    /// Capture timestamp of the request's first byte.
    public var captureTimeNs: Int64
    /// Connection number within the capture (1, 2, ...), shared by exchanges on one connection.
    public var connection: Int64
    /// Client and server endpoints as `address:port` (IPv6 as `[address]:port`).
    public var client: String
    public var server: String
    public var wireProtocol: WireProtocol
    public var request: RecordedRequest
    public var response: RecordedResponse?
    public var productionLatencyNs: Int64?
    /// Why production's answer is the proxy's own (`upstream_timeout`, `upstream_refused`, ...);
    /// nil when the response came from production or no response was seen.
    public var productionError: String?

    public init(
        captureTimeNs: Int64, connection: Int64, client: String, server: String,
        wireProtocol: WireProtocol = .http1, request: RecordedRequest,
        response: RecordedResponse?, productionLatencyNs: Int64?, productionError: String? = nil
    ) {
        self.captureTimeNs = captureTimeNs
        self.connection = connection
        self.client = client
        self.server = server
        self.wireProtocol = wireProtocol
        self.request = request
        self.response = response
        self.productionLatencyNs = productionLatencyNs
        self.productionError = productionError
    }
}
