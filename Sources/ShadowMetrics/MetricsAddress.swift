/// Parses a `--metrics` value "ADDR:PORT": "127.0.0.1:9464", "localhost:9464", "[::1]:9464" (IPv6 in
/// brackets), or ":9464" meaning 127.0.0.1. The port is decimal, 0...65535 (0: any free port).
public enum MetricsAddress {
    public static func parse(_ text: String) throws(MetricsEndpointError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":") else { throw .invalidAddress(text) }
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), port <= 65535
        else { throw .invalidAddress(text) }

        var host = text[..<colon]
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { throw .invalidAddress(text) }
            host = host.dropFirst().dropLast()
            guard host.contains(":") else { throw .invalidAddress(text) }
        } else if host.contains(":") {
            throw .invalidAddress(text)  // an IPv6 address needs brackets
        }
        guard !host.contains(where: { $0.isWhitespace || $0 == "[" || $0 == "]" || $0 == "/" }) else {
            throw .invalidAddress(text)
        }
        return (host.isEmpty ? "127.0.0.1" : String(host), port)
    }

    /// `host:port`, with an IPv6 host in brackets: how errors name an address.
    static func format(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Why the metrics endpoint cannot start; each description is one line naming the `--metrics` value.
public enum MetricsEndpointError: Error, CustomStringConvertible, Sendable {
    /// The text is not ADDR:PORT.
    case invalidAddress(String)
    /// Binding or listening failed (address in use, not local, permission); `address` is "host:port".
    case cannotListen(address: String, detail: String)

    public var description: String {
        switch self {
        case .invalidAddress(let text): "--metrics: '\(text)' is not ADDR:PORT (e.g. 127.0.0.1:9464)"
        case .cannotListen(let address, let detail): "--metrics \(address): cannot listen: \(detail)"
        }
    }
}
