import ShadowCore

/// Turns captured frames into exchanges: decodes, routes segments to connections, reassembles,
/// parses and pairs. The one pipeline behind both the file importer and the live capture.
///
/// Contract: `process` takes frames in capture order; finished exchanges collect until
/// `takeExchanges`. `finish` ends every open connection (its waiting requests are emitted, its
/// partial messages counted). Counters cover every frame given, used or not.
struct PacketProcessor {
    private let decoder: PacketDecoder?
    private var table: ConnectionTable
    private(set) var tally = CaptureTally()
    private(set) var firstPacketNs: Int64?
    private(set) var lastPacketNs: Int64?

    init(dlt: Int32, limits: CaptureLimits) {
        decoder = PacketDecoder.LinkType(dlt: dlt).map(PacketDecoder.init(linkType:))
        table = ConnectionTable(limits: limits)
    }

    /// Whether exchanges are waiting for `takeExchanges`.
    var hasExchanges: Bool { !table.outbox.isEmpty }

    /// Open connections.
    var connections: Int { table.count }

    /// Counts a frame that was seen but not decoded (filtered out, lost before parsing).
    mutating func skip(frameBytes: Int, timestampNs: Int64, reason: DropReason) {
        account(frameBytes, timestampNs)
        tally.add(reason)
    }

    mutating func process(frame: UnsafeRawBufferPointer, timestampNs ts: Int64) {
        account(frame.count, ts)
        guard let decoder else {
            tally.add(.unsupportedLinkType)
            return
        }
        switch decoder.decode(frame, timestampNs: ts) {
        case .segment(let segment):
            table.handle(segment, payload: UnsafeRawBufferPointer(rebasing: frame[segment.payload]), tally: &tally)
        case .dropped(let reason):
            tally.add(reason)
        }
        table.sweep(nowNs: ts, tally: &tally)
    }

    /// Evicts idle connections as of `nowNs` (capture clock) when no packet came to do it.
    mutating func sweep(nowNs: Int64) {
        table.sweep(nowNs: nowNs, tally: &tally)
    }

    /// Ends every open connection; their last exchanges become available to `takeExchanges`.
    mutating func finish() {
        table.closeAll(tally: &tally)
    }

    mutating func takeExchanges() -> [CapturedExchange] {
        let taken = table.outbox
        table.outbox.removeAll(keepingCapacity: true)
        return taken
    }

    private mutating func account(_ bytes: Int, _ ts: Int64) {
        tally.packets += 1
        tally.bytes += Int64(bytes)
        if firstPacketNs == nil { firstPacketNs = ts }
        lastPacketNs = ts
    }
}
