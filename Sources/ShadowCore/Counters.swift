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
    /// A connection switched protocols other than to h2c (a 101 to WebSocket or another protocol, a 2xx
    /// to CONNECT); later bytes are not HTTP/1.1 and are not stored, unless they are HTTP/2 with prior
    /// knowledge (a gRPC client through a CONNECT proxy), which also counts `http2_connection`.
    case upgradedConnection = "upgraded_connection"
    /// A message whose body exceeded the body limit; framed and skipped (the tee answers a request 413
    /// and closes its connection).
    case oversizedBody = "oversized_body"
    /// Packets the BPF filter rejected.
    case filtered = "filtered"
    /// Buffered out-of-order data exceeded the per-flow limit.
    case reassemblyOverflow = "reassembly_overflow"
    /// A connection decoded as HTTP/2 (not a drop: its streams are stored as `h2` or `grpc` exchanges):
    /// it opened with the prior-knowledge preface (`PRI * HTTP/2.0`), or switched by `Upgrade: h2c`
    /// and 101, or was recognised by its frames when the capture began mid-connection. Once per connection.
    case http2Connection = "http2_connection"

    // HTTP/2 streams that are not stored, or not stored whole (one stream, one count).
    /// A stream the server pushed (PUSH_PROMISE): no client sent its request, so it is never stored.
    case http2PushedStream = "http2_pushed_stream"
    /// A stream ended by RST_STREAM; stored without a response when its request was complete.
    case http2ResetStream = "http2_reset_stream"
    /// A stream above the last stream id of a GOAWAY (never processed); stored without a response
    /// when its request was complete.
    case http2GoAwayStream = "http2_goaway_stream"
    /// A stream still open when its connection's bytes ended; stored without a response when its
    /// request was complete.
    case http2UnfinishedStream = "http2_unfinished_stream"
    /// A stream whose request HEADERS came before the capture (or a gap) began: not stored.
    case http2StartedBeforeCapture = "http2_started_before_capture"
    /// An HTTP/2 request or response with bytes missing (a hole in its direction, or a header block
    /// that could not be decoded, counted under its own reason too): not stored.
    case http2IncompleteMessage = "http2_incomplete_message"
    /// An HTTP/2 request without `:method` or `:path` (or with them in HPACK entries from before the
    /// capture, see `hpack_unknown_entry`): not stored.
    case http2RequestWithoutPath = "http2_request_without_path"

    // What the HTTP/2 decoder (ShadowHTTP2) could not use, under its own names.
    /// The client's bytes did not start with the connection preface where they had to.
    case http2BadPreface = "http2_bad_preface"
    /// A frame over the largest frame size; the direction's framing restarts.
    case http2FrameTooLarge = "http2_frame_too_large"
    /// A frame whose length does not fit its type; the direction's framing restarts.
    case http2BadFrameLength = "http2_bad_frame_length"
    /// A frame with more padding than payload; the direction's framing restarts.
    case http2BadPadding = "http2_bad_padding"
    /// A frame on stream 0 that must not be, or the reverse; the direction's framing restarts.
    case http2BadStreamID = "http2_bad_stream_id"
    /// No plausible frame header within the scan limit after a start mid-connection or a restart.
    case http2NoFrameBoundary = "http2_no_frame_boundary"
    /// Bytes skipped while looking for a frame boundary, or after a framing error. Counted in bytes.
    case http2DiscardedBytes = "http2_discarded_bytes"
    /// Frames of types HTTP/2 does not define (skipped, as RFC 9113 says).
    case http2UnknownFrameType = "http2_unknown_frame_type"
    /// A CONTINUATION that follows no open header block.
    case http2OrphanContinuation = "http2_orphan_continuation"
    /// A header block interrupted by another frame (its fields are lost).
    case http2InterruptedHeaderBlock = "http2_interrupted_header_block"
    /// A header block over the size limit (its fields are lost).
    case http2HeaderBlockTooLarge = "http2_header_block_too_large"
    /// A PUSH_PROMISE on a stream the capture does not know.
    case http2PushPromiseOnUnknownStream = "http2_push_promise_on_unknown_stream"
    /// A frame on a stream already closed.
    case http2FrameOnClosedStream = "http2_frame_on_closed_stream"
    /// A frame on a stream never opened.
    case http2FrameOnIdleStream = "http2_frame_on_idle_stream"
    /// A stream opened while the connection already held the most open streams the capture keeps.
    case http2TooManyStreams = "http2_too_many_streams"
    /// A header block that is not valid HPACK (the direction's HPACK state restarts).
    case hpackMalformed = "hpack_malformed"
    /// An HPACK index past the table.
    case hpackIndexOutOfRange = "hpack_index_out_of_range"
    /// An HPACK table size update over the announced limit, or not at the start of a block.
    case hpackBadTableSizeUpdate = "hpack_bad_table_size_update"
    /// A header list over the size limit (cut off).
    case hpackHeaderListTooLarge = "hpack_header_list_too_large"
    /// A reference to an HPACK entry from before the capture began: the field is stored named
    /// `unknown-hpack-entry-N` (N its HPACK index), with its value when that was known. Counted per field.
    case hpackUnknownEntry = "hpack_unknown_entry"
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

extension DropReason {
    /// False for `http2_connection`, which counts connections decoded, not lost: kept among the
    /// reasons for its stored name, left out of `Counters.drops`.
    public var isLoss: Bool { self != .http2Connection }
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

    /// Drop reasons that count a loss with a non-zero count, in declaration order.
    public var drops: [(DropReason, Int64)] {
        DropReason.allCases.compactMap { reason in
            let n = self[reason]
            return n > 0 && reason.isLoss ? (reason, n) : nil
        }
    }
}
