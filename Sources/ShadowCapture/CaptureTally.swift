import ShadowCore

/// Running counts of one import, cheap to bump per packet; turned into `Counters` once at the end.
///
/// Units: packet-level reasons (`unsupported_link_type`, `truncated_packet`, `not_ip`, `not_tcp`,
/// `ip_fragment`, `malformed_packet`, `filtered`) count packets; `retransmitted_segment` segments;
/// `gap` one per hole in a stream plus one per message a hole cut; `skipped_bytes` bytes;
/// `unparsable_*`, `truncated_message`, `oversized_body`, `response_without_request` and
/// `request_without_response` messages; `upgraded_connection` and `http2_connection` connections;
/// `reassembly_overflow` overflow events.
struct CaptureTally: Sendable {
    var packets: Int64 = 0
    var bytes: Int64 = 0
    var tcpConnections: Int64 = 0
    var exchanges: Int64 = 0
    var requests: Int64 = 0
    var responses: Int64 = 0
    var interimResponses: Int64 = 0
    /// Connections closed because they were idle past the limit (their partial messages counted).
    var evictedConnections: Int64 = 0
    private(set) var drops: [DropReason: Int64] = [:]

    mutating func add(_ reason: DropReason, _ n: Int64 = 1) {
        guard n != 0 else { return }
        drops[reason, default: 0] += n
    }

    mutating func add(_ reason: DropReason, _ n: Int) {
        add(reason, Int64(n))
    }

    subscript(_ reason: DropReason) -> Int64 { drops[reason, default: 0] }

    var counters: Counters {
        var c = Counters()
        c.add("packets", packets)
        c.add("bytes", bytes)
        c.add("tcp_connections", tcpConnections)
        c.add("exchanges", exchanges)
        c.add("requests", requests)
        c.add("responses", responses)
        c.add("interim_responses", interimResponses)
        c.add("evicted_connections", evictedConnections)
        for reason in DropReason.allCases { c.add(reason, drops[reason, default: 0]) }
        return c
    }
}
