/// An `http://host[:port][/path]` URL as the command line gives it (a target, an upstream).
///
/// The host may be an IPv6 address in brackets; the port defaults to 80; `path` has no trailing
/// slash (empty when none was given).
public struct HTTPURL: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var path: String

    /// Parses `url` given with `flag`; throws `ShadowError.badURL` naming both.
    public init(_ url: String, flag: String) throws {
        guard url.hasPrefix("http://") else {
            throw ShadowError.badURL(flag: flag, url: url, detail: "only http:// URLs are supported")
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        path = prefix
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
}
