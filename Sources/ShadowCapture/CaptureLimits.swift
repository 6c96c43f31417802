import ShadowCore

/// Bounds on what one capture may hold in memory.
public struct CaptureLimits: Sendable {
    /// Largest body stored per message; a larger message is framed, skipped and counted `oversized_body`.
    public var maxBodyBytes: Int
    /// Out-of-order bytes held per direction of a connection; past it, the hole before them becomes a gap.
    public var maxBufferedBytesPerFlow: Int
    /// Largest header section (start line, fields, or chunked trailers) of one message.
    public var maxHeaderBytes: Int
    /// A connection silent for this long (capture time) is closed as if the capture had ended there.
    public var idleFlowTimeoutSeconds: Int
    /// Connections tracked at once; packets of further new connections count `flow_table_full`.
    public var maxFlows: Int

    public init(
        maxBodyBytes: Int = 64 << 20, maxBufferedBytesPerFlow: Int = 64 << 20, maxHeaderBytes: Int = 64 << 10,
        idleFlowTimeoutSeconds: Int = 600, maxFlows: Int = 100_000
    ) {
        self.maxFlows = max(1, maxFlows)
        self.maxBodyBytes = maxBodyBytes
        self.maxBufferedBytesPerFlow = maxBufferedBytesPerFlow
        self.maxHeaderBytes = maxHeaderBytes
        self.idleFlowTimeoutSeconds = idleFlowTimeoutSeconds
    }
}

/// What an import saw.
///
/// `counters` holds `packets`, `bytes` (captured bytes), `tcp_connections`, `exchanges` (emitted, with
/// or without a response), `requests`, `responses` (final responses), `interim_responses` (1xx other
/// than 101), `evicted_connections` (closed for idleness), and every `DropReason` (zero when nothing was dropped for it).
public struct CaptureSummary: Sendable {
    public var counters: Counters
    public var firstPacketNs: Int64?
    public var lastPacketNs: Int64?
    /// libpcap's name for the link type, e.g. `EN10MB`, `LINUX_SLL`, `NULL`.
    public var linkType: String

    public init(counters: Counters, firstPacketNs: Int64?, lastPacketNs: Int64?, linkType: String) {
        self.counters = counters
        self.firstPacketNs = firstPacketNs
        self.lastPacketNs = lastPacketNs
        self.linkType = linkType
    }
}
