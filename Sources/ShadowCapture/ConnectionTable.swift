import ShadowCore

/// Routes segments to their connections by 4-tuple; numbers connections in order of appearance.
///
/// Contract:
/// - A segment for an unknown 4-tuple opens a connection (`tcp_connections`), even a bare ACK
///   (a keep-alive on a connection older than the capture is still a connection seen).
/// - A SYN from the client with a new initial sequence number on a known 4-tuple is port reuse: the
///   old connection is closed first.
/// - A connection closed by FIN/RST is remembered for `closedMemoryNs` of capture time so that its
///   late segments are not taken for a new connection; their payload counts `retransmitted_segment`.
/// - At most `limits.maxFlows` connections are tracked; a new one beyond that (once closed ones
///   were forgotten to make room) is refused, each of its packets counted `flow_table_full`.
/// - `sweep` closes connections idle for longer than the limit (forgotten afterwards, so later
///   traffic starts a new, mid-stream connection; counted `evicted_connections`); `closeAll` ends the capture, oldest first.
/// - Exchanges collect in `outbox` in completion order; the owner drains it.
struct ConnectionTable {
    private struct FlowKey: Hashable {
        var low: Endpoint
        var high: Endpoint

        init(_ a: Endpoint, _ b: Endpoint) {
            if a < b {
                low = a
                high = b
            } else {
                low = b
                high = a
            }
        }
    }

    static let closedMemoryNs: Int64 = 60_000_000_000
    static let sweepIntervalNs: Int64 = 10_000_000_000

    let limits: CaptureLimits
    var outbox: [CapturedExchange] = []
    private var index: [FlowKey: Int] = [:]
    private var slots: [HTTPConnectionTracker?] = []
    private var freeSlots: [Int] = []
    private var nextID: Int64 = 1
    private var lastSweepNs: Int64?

    init(limits: CaptureLimits) {
        self.limits = limits
    }

    /// Open or remembered connections.
    var count: Int { index.count }

    mutating func handle(_ segment: TCPSegment, payload: UnsafeRawBufferPointer, tally: inout CaptureTally) {
        let key = FlowKey(segment.source, segment.destination)
        let opening = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
        if let slot = index[key], let existing = slots[slot] {
            let reused = opening && existing.isNewConnection(synFrom: segment.source, sequence: segment.sequence)
            if !reused {
                if existing.isClosed {
                    if !payload.isEmpty { tally.add(.retransmittedSegment) }
                    return
                }
                slots[slot]!.handle(segment, payload: payload, tally: &tally, outbox: &outbox)
                return
            }
            slots[slot]!.close(tally: &tally, outbox: &outbox)
            release(key, slot)
        }
        if index.count >= limits.maxFlows {
            forgetClosed()
            if index.count >= limits.maxFlows {
                tally.add(.flowTableFull)
                return
            }
        }
        var tracker = HTTPConnectionTracker(id: nextID, limits: limits, nowNs: segment.timestampNs)
        nextID += 1
        tally.tcpConnections += 1
        tracker.handle(segment, payload: payload, tally: &tally, outbox: &outbox)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = tracker
        } else {
            slot = slots.count
            slots.append(tracker)
        }
        index[key] = slot
    }

    /// Closes idle connections and forgets old closed ones; cheap unless a sweep is due.
    mutating func sweep(nowNs: Int64, tally: inout CaptureTally) {
        guard let last = lastSweepNs else {
            lastSweepNs = nowNs
            return
        }
        guard nowNs - last >= Self.sweepIntervalNs else { return }
        lastSweepNs = nowNs
        let idleNs = Int64(max(0, limits.idleFlowTimeoutSeconds)) * 1_000_000_000
        var idle: [(key: FlowKey, slot: Int)] = []
        for (key, slot) in index {
            guard let tracker = slots[slot] else { continue }
            let quiet = nowNs - tracker.lastActivityNs
            if tracker.isClosed {
                if !tracker.closedByTCP || quiet > Self.closedMemoryNs { release(key, slot) }
            } else if quiet > idleNs {
                idle.append((key, slot))
            }
        }
        // Oldest first, not in the dictionary's order (seeded per process): the exchanges they emit
        // must come out in the same order on every import of a file (`capture --resume` relies on it).
        for (key, slot) in idle.sorted(by: { slots[$0.slot]!.id < slots[$1.slot]!.id }) {
            tally.evictedConnections += 1
            slots[slot]!.close(tally: &tally, outbox: &outbox)
            release(key, slot)
        }
    }

    /// Makes room: forgets connections already closed (their late segments will look new).
    private mutating func forgetClosed() {
        for (key, slot) in index where slots[slot]?.isClosed != false {
            release(key, slot)
        }
    }

    /// End of capture: closes every open connection, oldest first.
    mutating func closeAll(tally: inout CaptureTally) {
        let open = index.values.filter { slots[$0]?.isClosed == false }.sorted { slots[$0]!.id < slots[$1]!.id }
        for slot in open {
            slots[slot]!.close(tally: &tally, outbox: &outbox)
        }
        index = [:]
        slots = []
        freeSlots = []
    }

    private mutating func release(_ key: FlowKey, _ slot: Int) {
        index[key] = nil
        slots[slot] = nil
        freeSlots.append(slot)
    }
}
