import ShadowCore

/// Receives one direction of a connection in order: bytes, and word of bytes that never came.
protocol ByteStreamConsumer {
    /// In-order bytes, stamped with the capture time of the packet that made them available in order.
    mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally)
    /// `byteCount` bytes are missing at this point of the stream.
    mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally)
}

/// One direction of one TCP connection, put back in sequence order.
///
/// Contract:
/// - Orders by sequence number only (never by acknowledgment), with serial arithmetic, so the
///   32-bit sequence space may wrap.
/// - Bytes already delivered are never delivered again: a segment that brings nothing new
///   (retransmission, keep-alive probe) or only partly new (overlap) counts one `retransmitted_segment`.
/// - In-order payload is handed on straight from the packet, without a copy; out-of-order payload
///   is copied and held, at most `maxBufferedBytes` of it. Past that limit the hole before the
///   earliest held segment is given up: counted `reassembly_overflow` (once) and `gap` (per hole), the
///   consumer is told, and delivery goes on.
/// - A hole the peer acknowledged (`acknowledged`) will never be filled: it is given up the same way.
///   Acknowledgments never order data; they only end the wait for bytes the capture missed.
/// - `close` gives up every remaining hole the same way (including one before a seen FIN).
struct TCPReassembler {
    private struct Held {
        var sequence: UInt32
        var bytes: [UInt8]
        var timestampNs: Int64
    }

    let maxBufferedBytes: Int
    /// The sequence number of the next byte to deliver; nil until the stream's start is known.
    private(set) var nextSequence: UInt32?
    /// The stream's first byte was seen without its SYN.
    private(set) var startedMidstream = false
    /// Sequence number just after the last byte, once a FIN was seen.
    private(set) var finSequence: UInt32?
    /// Set when every byte up to the FIN was delivered.
    private(set) var isFinished = false
    /// Drop everything from now on (the connection stopped speaking HTTP/1.x).
    var discarding = false
    private var held: [Held] = []
    private(set) var heldBytes = 0

    init(maxBufferedBytes: Int) {
        self.maxBufferedBytes = max(0, maxBufferedBytes)
    }

    var isStarted: Bool { nextSequence != nil }

    /// Sets where the stream starts (the SYN's sequence number + 1), unless that is already known.
    mutating func start(at sequence: UInt32, midstream: Bool) {
        guard nextSequence == nil else { return }
        nextSequence = sequence
        startedMidstream = midstream
    }

    /// Records a FIN at `sequence` (the sequence number just after the segment's payload).
    mutating func fin(at sequence: UInt32) {
        if finSequence == nil { finSequence = sequence }
        if discarding { isFinished = true }
        checkFinished()
    }

    /// Adds one segment's payload, starting at `sequence`, and delivers whatever became in order.
    mutating func ingest<C: ByteStreamConsumer>(
        sequence: UInt32, payload: UnsafeRawBufferPointer, timestampNs: Int64, into consumer: inout C,
        tally: inout CaptureTally
    ) {
        guard !payload.isEmpty else { return }
        if nextSequence == nil { start(at: sequence, midstream: true) }
        guard let next = nextSequence else { return }
        if discarding { return }
        if isFinished {
            tally.add(.retransmittedSegment)
            return
        }
        let offset = Int(Int32(bitPattern: sequence &- next))
        if offset <= 0 {
            let skip = -offset
            if skip > 0 { tally.add(.retransmittedSegment) }
            guard skip < payload.count else { return }
            let fresh = UnsafeRawBufferPointer(rebasing: payload[skip...])
            nextSequence = next &+ UInt32(truncatingIfNeeded: fresh.count)
            consumer.receive(fresh, timestampNs: timestampNs, tally: &tally)
            drain(timestampNs: timestampNs, into: &consumer, tally: &tally)
            checkFinished()
            return
        }
        hold(sequence: sequence, offset: offset, payload: payload, timestampNs: timestampNs, tally: &tally)
        if heldBytes > maxBufferedBytes {
            tally.add(.reassemblyOverflow)
            while heldBytes > maxBufferedBytes, !held.isEmpty {
                skipToHeld(into: &consumer, tally: &tally)
            }
            checkFinished()
        }
    }

    /// The peer acknowledged everything before `acknowledgment`: a hole it covers was received by the
    /// peer but not captured, so it will never be filled. Gives up such holes (counted `gap`) and
    /// delivers what follows them. Holes past the acknowledgment keep waiting.
    mutating func acknowledged<C: ByteStreamConsumer>(_ acknowledgment: UInt32, into consumer: inout C, tally: inout CaptureTally) {
        guard !discarding else { return }
        while let next = nextSequence, let first = held.first,
              Int32(bitPattern: first.sequence &- next) > 0, Int32(bitPattern: acknowledgment &- first.sequence) > 0
        {
            skipToHeld(into: &consumer, tally: &tally)
        }
        checkFinished()
    }

    /// The connection is over: every hole left (before held data, or before a seen FIN) is a gap.
    mutating func close<C: ByteStreamConsumer>(timestampNs: Int64, into consumer: inout C, tally: inout CaptureTally) {
        guard !discarding else {
            held.removeAll()
            heldBytes = 0
            return
        }
        while !held.isEmpty { skipToHeld(into: &consumer, tally: &tally) }
        if let next = nextSequence, let fin = finSequence, !isFinished {
            let missing = Int(Int32(bitPattern: fin &- next))
            if missing > 0 {
                tally.add(.gap)
                consumer.gap(missing, timestampNs: timestampNs, tally: &tally)
            }
            nextSequence = fin
            isFinished = true
        }
    }

    /// Releases held bytes and ignores all later data.
    mutating func discardAll() {
        discarding = true
        held = []
        heldBytes = 0
    }

    private mutating func hold(sequence: UInt32, offset: Int, payload: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
        guard let next = nextSequence else { return }
        var index = held.count
        for (i, segment) in held.enumerated() {
            let existing = Int(Int32(bitPattern: segment.sequence &- next))
            if existing == offset && segment.bytes.count >= payload.count {
                tally.add(.retransmittedSegment)
                return
            }
            if existing > offset {
                index = i
                break
            }
        }
        held.insert(Held(sequence: sequence, bytes: Array(payload), timestampNs: timestampNs), at: index)
        heldBytes += payload.count
    }

    /// Gives up the hole before the earliest held segment and delivers what follows it.
    private mutating func skipToHeld<C: ByteStreamConsumer>(into consumer: inout C, tally: inout CaptureTally) {
        guard let next = nextSequence, let first = held.first else { return }
        let missing = Int(Int32(bitPattern: first.sequence &- next))
        if missing > 0 {
            tally.add(.gap)
            consumer.gap(missing, timestampNs: first.timestampNs, tally: &tally)
            nextSequence = first.sequence
        }
        drain(timestampNs: first.timestampNs, into: &consumer, tally: &tally)
    }

    private mutating func drain<C: ByteStreamConsumer>(timestampNs: Int64, into consumer: inout C, tally: inout CaptureTally) {
        while let first = held.first, let next = nextSequence {
            let offset = Int(Int32(bitPattern: first.sequence &- next))
            guard offset <= 0 else { return }
            held.removeFirst()
            heldBytes -= first.bytes.count
            let skip = -offset
            if skip > 0 { tally.add(.retransmittedSegment) }
            guard skip < first.bytes.count else { continue }
            nextSequence = next &+ UInt32(truncatingIfNeeded: first.bytes.count - skip)
            first.bytes.withUnsafeBytes { raw in
                consumer.receive(
                    UnsafeRawBufferPointer(rebasing: raw[skip...]), timestampNs: max(timestampNs, first.timestampNs),
                    tally: &tally)
            }
        }
    }

    private mutating func checkFinished() {
        if let fin = finSequence, let next = nextSequence, held.isEmpty, Int32(bitPattern: fin &- next) <= 0 {
            isFinished = true
        }
    }
}
