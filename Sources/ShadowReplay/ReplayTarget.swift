import ShadowCore

/// A replay target parsed from its URL: `http://host[:port][/prefix]`.
///
/// The path prefix, when given, is put in front of each recorded request target.
public struct ReplayTarget: Sendable, Hashable, Codable {
    public var side: Side
    public var url: String
    public var host: String
    public var port: Int
    public var pathPrefix: String

    /// Parses `url` given with `flag`; throws `ShadowError.badURL` naming both.
    public init(side: Side, url: String, flag: String) throws {
        self.side = side
        self.url = url
        guard url.hasPrefix("http://") else {
            throw ShadowError.badURL(flag: flag, url: url, detail: "only http:// URLs are supported")
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        pathPrefix = prefix
        var hostPart = Substring(authority)
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw ShadowError.badURL(flag: flag, url: url, detail: "unterminated IPv6 address")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw ShadowError.badURL(flag: flag, url: url, detail: "unexpected '\(after)' after the IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw ShadowError.badURL(flag: flag, url: url, detail: "no host") }
        host = String(hostPart)
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else {
                throw ShadowError.badURL(flag: flag, url: url, detail: "port '\(portPart)' is not in 1...65535")
            }
            self.port = port
        } else {
            port = 80
        }
    }

    /// The Host header value for this target.
    public var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }
}
