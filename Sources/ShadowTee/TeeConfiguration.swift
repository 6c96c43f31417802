import NIOCore

/// A `host:port` to listen on or connect to.
public struct SocketAddressText: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or a bare `port` (then on `defaultHost`); nil when malformed.
    public init?(parsing text: String, defaultHost: String = "127.0.0.1") {
        var host = defaultHost
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Limits and timeouts on clients, shared by the proxy and the mirror sink. Each refusal is counted
/// by its `DropReason` and closes the connection.
public struct TeeLimits: Sendable {
    /// Largest request (and, for the proxy's record, response) body; larger requests get 413
    /// (`oversized_body`), as soon as Content-Length or the chunks so far say so.
    public var maxBodyBytes = 64 << 20
    /// Largest request head; a larger one gets 431 (`oversized_header`).
    public var maxHeaderBytes = 64 << 10
    /// Most header fields in a request head; more get 431 (`too_many_header_fields`).
    public var maxHeaderFields = 100
    /// From a connection's start, or from the first byte of a later request, to the end of the
    /// request's head; past it 408 (`header_timeout`). A new connection that sends nothing in this
    /// time is closed silently (`idle_timeouts`).
    public var headerTimeout: TimeAmount = .seconds(10)
    /// Longest wait between two reads of a request body; past it 408 (`body_timeout`). Also the
    /// longest the tee reads and discards after a refusal (lingering close).
    public var bodyTimeout: TimeAmount = .seconds(10)
    /// A keep-alive connection with nothing in progress is closed after this (`idle_timeouts`).
    public var idleTimeout: TimeAmount = .seconds(60)
    /// Client connections open at once; one more is closed as soon as it is accepted (`connection_limit`).
    public var maxConnections = 10_000
    public init() {}
}

/// How `capture proxy` reaches production.
public struct UpstreamConfiguration: Sendable {
    public var address: SocketAddressText
    /// Connections kept per event loop (idle ones are reused; beyond this, requests wait).
    public var connectionsPerLoop = 256
    public var connectTimeout: TimeAmount = .seconds(2)
    /// From the request's last byte written to the response's last byte; past it the client gets 504.
    public var responseTimeout: TimeAmount = .seconds(30)

    public init(address: SocketAddressText) {
        self.address = address
    }
}
