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

/// Limits and timeouts shared by the proxy and the mirror sink.
public struct TeeLimits: Sendable {
    /// Largest request (and, for the proxy's record, response) body; larger requests get 413.
    public var maxBodyBytes = 64 << 20
    /// Largest request head; a larger one gets 400 and is counted `oversized_header`.
    public var maxHeaderBytes = 64 << 10
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
