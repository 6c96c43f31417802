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
        let parsed = try HTTPURL(url, flag: flag)
        self.side = side
        self.url = url
        host = parsed.host
        port = parsed.port
        pathPrefix = parsed.path
    }

    /// The Host header value for this target.
    public var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }
}
