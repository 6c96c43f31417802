import ShadowCore

/// Running counts of one import, cheap to bump per packet; turned into `Counters` once at the end.
///
/// Units: packet-level reasons (`unsupported_link_type`, `truncated_packet`, `not_ip`, `not_tcp`,
/// `ip_fragment`, `malformed_packet`, `filtered`) count packets; `retransmitted_segment` segments;
/// `gap` one per hole in a stream plus one per message a hole cut; `skipped_bytes` bytes;
/// `unparsable_*`, `truncated_message`, `oversized_body`, `response_without_request` and
/// `request_without_response` messages; `upgraded_connection` and `http2_connection` connections;
/// `reassembly_overflow` overflow events; the `http2_*_stream`, `http2_started_before_capture`,
/// `http2_incomplete_message` and `http2_request_without_path` reasons streams (or their messages);
/// the HTTP/2 decoder's reasons what their names say (`http2_discarded_bytes` bytes, `hpack_unknown_entry`
/// fields, the rest frames or header blocks). HTTP/2 streams stored count in `exchanges`, `requests`
/// and `responses` like HTTP/1 messages.
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
    /// The HTTP/2 decoder's counts that are not drops (`http2_frames`, `http2_streams`, ...).
    private(set) var http2Counts = Counters()

    /// Counts the HTTP/2 decoder keeps that describe the traffic rather than a loss; every other
    /// name it uses is a `DropReason`.
    static let http2Informational: Set<String> = [
        "http2_frames", "http2_streams", "http2_settings", "http2_settings_ack", "http2_goaway",
        // Already counted as `gap` (per hole) and `oversized_body` (per message) by the capture.
        "http2_gap", "http2_body_truncated",
    ]

    mutating func add(_ reason: DropReason, _ n: Int64 = 1) {
        guard n != 0 else { return }
        drops[reason, default: 0] += n
    }

    mutating func add(_ reason: DropReason, _ n: Int) {
        add(reason, Int64(n))
    }

    subscript(_ reason: DropReason) -> Int64 { drops[reason, default: 0] }

    /// Adds counts named by the HTTP/2 decoder: a name that is a `DropReason` counts as that drop,
    /// any other is kept under its own name.
    mutating func add(http2 name: String, _ n: Int64) {
        if let reason = DropReason(rawValue: name) {
            add(reason, n)
        } else if n != 0 {
            http2Counts.add(name, n)
        }
    }

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
        c.merge(http2Counts)
        return c
    }
}
