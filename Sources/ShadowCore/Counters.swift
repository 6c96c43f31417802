/// Why something the capture saw could not be used. Raw values are the names stored and shown.
public enum DropReason: String, Sendable, CaseIterable, Codable, Error {
    /// Link type libpcap reported that the decoder does not handle.
    case unsupportedLinkType = "unsupported_link_type"
    /// Frame shorter than its headers say (snap length, corruption).
    case truncatedPacket = "truncated_packet"
    /// Not IPv4 or IPv6 (ARP, LLDP, ...).
    case notIP = "not_ip"
    /// IP but not TCP (UDP, ICMP, ...).
    case notTCP = "not_tcp"
    /// IP fragments; reassembly of IP fragments is not done.
    case ipFragment = "ip_fragment"
    /// Invalid IP or TCP header (bad lengths, bad version).
    case malformedPacket = "malformed_packet"
    /// Segment data already delivered (retransmission or overlap); its bytes were not needed.
    case retransmittedSegment = "retransmitted_segment"
    /// Holes in a stream (lost segments), and the messages they cut, which are not stored.
    case gap = "gap"
    /// Bytes skipped while looking for the next HTTP message start: the capture began mid-connection,
    /// or bytes were lost, or a message was unparsable. Counted in bytes.
    case skippedBytes = "skipped_bytes"
    /// Request bytes that do not parse as HTTP/1.1.
    case unparsableRequest = "unparsable_request"
    /// Response bytes that do not parse as HTTP/1.1.
    case unparsableResponse = "unparsable_response"
    /// A response with no outstanding request on its connection.
    case responseWithoutRequest = "response_without_request"
    /// A request whose response never appeared (stored, without a production response).
    case requestWithoutResponse = "request_without_response"
    /// A message cut off by the end of the capture or a connection close.
    case truncatedMessage = "truncated_message"
    /// A connection switched protocols (Upgrade/101, CONNECT); later bytes are not HTTP/1.1.
    case upgradedConnection = "upgraded_connection"
    /// A message whose body exceeded the body limit; framed and skipped (the tee answers a request 413
    /// and closes its connection).
    case oversizedBody = "oversized_body"
    /// Packets the BPF filter rejected.
    case filtered = "filtered"
    /// Buffered out-of-order data exceeded the per-flow limit.
    case reassemblyOverflow = "reassembly_overflow"
    /// A connection that opened with the HTTP/2 prior-knowledge preface (`PRI * HTTP/2.0`);
    /// counted once per connection, its bytes are not parsed as HTTP/1.1.
    case http2Connection = "http2_connection"
    /// A connection seen while the connection table was full (`--max-flows`); counted per packet.
    case flowTableFull = "flow_table_full"
    /// Live capture: packets libpcap delivered but the parser's queue had no room for.
    case captureQueueFull = "capture_queue_full"
    /// Live capture: packets the kernel dropped because libpcap's buffer was full (libpcap's `ps_drop`).
    case kernelDropped = "kernel_dropped"
    /// Live capture: packets the interface or its driver dropped (libpcap's `ps_ifdrop`).
    case interfaceDropped = "interface_dropped"
    /// Exchanges completed after `--max-exchanges` was reached; not stored.
    case afterLimit = "after_limit"
    /// Tee: a request that was not HTTP/1.1; the client got 400 and the connection was closed.
    case malformedRequest = "malformed_request"
    /// Tee: a request head over `--max-header-bytes`; the client got 431 and the connection was closed.
    case oversizedHeader = "oversized_header"
    /// Tee: a request head with more than `--max-header-count` fields; 431, closed.
    case tooManyHeaderFields = "too_many_header_fields"
    /// Tee: a request head not complete within `--header-timeout` (slowloris); 408, closed.
    case headerTimeout = "header_timeout"
    /// Tee: a request body that stalled for `--body-timeout` between two reads; 408, closed.
    case bodyTimeout = "body_timeout"
    /// Tee: a client connection over `--max-connections`; closed at once, unread.
    case connectionLimit = "connection_limit"
    /// Tee: forwarded, but not recorded because `--sample` left it out.
    case notSampled = "not_sampled"
    /// Tee: forwarded, but not recorded because of `--method` or the path filters.
    case filteredOut = "filtered_out"
    /// Tee: forwarded, but the recording queue was full (the store fell behind); not recorded.
    case recordQueueFull = "record_queue_full"
    /// Tee: forwarded, but the store had failed; not recorded.
    case storeFailed = "store_failed"
    /// Tee: spooled, but its spool segment no longer decodes (a damaged file); the segment stays in
    /// `spooled_exchanges` for inspection.
    case spoolUnreadable = "spool_unreadable"
    /// Tee: the client closed its connection before the whole request arrived.
    case clientClosed = "client_closed"
}

/// Named counts kept by a capture or a replay run. Keys are stable snake_case names.
public struct Counters: Sendable, Hashable, Codable {
    public private(set) var values: [String: Int64] = [:]

    public init() {}

    public init(_ values: [String: Int64]) {
        self.values = values
    }

    public subscript(_ key: String) -> Int64 {
        values[key, default: 0]
    }

    public subscript(_ reason: DropReason) -> Int64 {
        values[reason.rawValue, default: 0]
    }

    public mutating func add(_ key: String, _ n: Int64 = 1) {
        values[key, default: 0] += n
    }

    public mutating func add(_ reason: DropReason, _ n: Int64 = 1) {
        add(reason.rawValue, n)
    }

    public mutating func merge(_ other: Counters) {
        for (key, value) in other.values { add(key, value) }
    }

    /// Drop reasons with a non-zero count, in declaration order.
    public var drops: [(DropReason, Int64)] {
        DropReason.allCases.compactMap { reason in
            let n = self[reason]
            return n > 0 ? (reason, n) : nil
        }
    }
}
