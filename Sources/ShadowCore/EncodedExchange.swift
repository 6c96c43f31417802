/// An exchange in the store's own encoding, ready to bind: header blocks already in their stored
/// text form (`Name: value` lines joined by CRLF), so that a producer holding raw heads (the tee)
/// never splits them into fields only for the writer to join them again.
public struct EncodedExchange: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headerText: [UInt8]
        public var body: [UInt8]

        public init(status: Int, headerText: [UInt8], body: [UInt8]) {
            self.status = status
            self.headerText = headerText
            self.body = body
        }
    }

    public var captureTimeNs: Int64
    public var connection: Int64
    public var client: String
    public var server: String
    public var wireProtocol: WireProtocol
    public var method: String
    public var target: String
    public var version: String
    public var requestHeaderText: [UInt8]
    public var requestBody: [UInt8]
    public var response: Response?
    public var productionLatencyNs: Int64?
    public var productionError: String?

    public init(
        captureTimeNs: Int64, connection: Int64, client: String, server: String, wireProtocol: WireProtocol = .http1,
        method: String, target: String, version: String, requestHeaderText: [UInt8], requestBody: [UInt8],
        response: Response?, productionLatencyNs: Int64?, productionError: String? = nil
    ) {
        self.captureTimeNs = captureTimeNs
        self.connection = connection
        self.client = client
        self.server = server
        self.wireProtocol = wireProtocol
        self.method = method
        self.target = target
        self.version = version
        self.requestHeaderText = requestHeaderText
        self.requestBody = requestBody
        self.response = response
        self.productionLatencyNs = productionLatencyNs
        self.productionError = productionError
    }

    /// `exchange` encoded; bodies and strings are shared, not copied.
    public init(_ exchange: CapturedExchange) {
        self.init(
            captureTimeNs: exchange.captureTimeNs, connection: exchange.connection, client: exchange.client,
            server: exchange.server, wireProtocol: exchange.wireProtocol, method: exchange.request.method,
            target: exchange.request.target, version: exchange.request.version,
            requestHeaderText: exchange.request.headers.wireUTF8, requestBody: exchange.request.body,
            response: exchange.response.map {
                Response(status: $0.status, headerText: $0.headers.wireUTF8, body: $0.body)
            },
            productionLatencyNs: exchange.productionLatencyNs, productionError: exchange.productionError)
    }
}
