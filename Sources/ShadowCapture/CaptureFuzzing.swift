import ShadowCore

/// The capture parsers as fuzz targets (see fuzz/ and Tests/ShadowFuzzTargetsTests): each takes any
/// bytes, drives one parser with them and traps when a contract of that parser is broken.
public enum CaptureFuzzing {
    static let limits = CaptureLimits(
        maxBodyBytes: 4096, maxBufferedBytesPerFlow: 8192, maxHeaderBytes: 2048, idleFlowTimeoutSeconds: 1, maxFlows: 8)

    /// Frames of one link type through the whole pipeline (decoder, connections, reassembly,
    /// HTTP, pairing). Input: a link-type selector byte, then frames, each after a 2-byte length
    /// and a 1-byte clock step (milliseconds).
    /// Checks: a decoded segment's payload lies inside its frame.
    public static func packetDecoding(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let dlts: [Int32] = [1, 113, 276, 0, 12, 228, 229]
        let dlt = dlts[Int(input.byte()) % dlts.count]
        let decoder = PacketDecoder(linkType: PacketDecoder.LinkType(dlt: dlt)!)
        var processor = PacketProcessor(dlt: dlt, limits: limits)
        var clockNs: Int64 = 0
        while !input.isEmpty {
            let frame = input.slice(Int(input.number(bytes: 2)))
            clockNs += Int64(input.byte()) * 1_000_000
            if case .segment(let segment) = decoder.decode(frame, timestampNs: clockNs) {
                precondition(segment.payload.lowerBound >= 0 && segment.payload.upperBound <= frame.count, "payload outside its frame")
            }
            processor.process(frame: frame, timestampNs: clockNs)
            _ = processor.takeExchanges()
        }
        processor.finish()
        _ = processor.takeExchanges()
    }

    /// One direction of a connection put back in order from segments. Input: the initial sequence
    /// number (4 bytes), then operations of 1 + 4 + 1 bytes (kind, sequence offset from the start,
    /// payload length) followed by the payload for data.
    /// Checks: bytes delivered plus bytes reported missing always equal how far the stream has
    /// advanced, and held out-of-order bytes never exceed the limit.
    public static func tcpReassembly(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let start = UInt32(truncatingIfNeeded: input.number(bytes: 4))
        var reassembler = TCPReassembler(maxBufferedBytes: 512)
        var consumer = StreamPosition()
        var tally = CaptureTally()
        var clockNs: Int64 = 0
        reassembler.start(at: start, midstream: false)
        while !input.isEmpty {
            let kind = input.byte() % 4
            let sequence = start &+ UInt32(truncatingIfNeeded: input.number(bytes: 4))
            let length = Int(input.byte())
            clockNs += 1000
            switch kind {
            case 0, 1: reassembler.ingest(sequence: sequence, payload: input.slice(length), timestampNs: clockNs, into: &consumer, tally: &tally)
            case 2: reassembler.acknowledged(sequence, into: &consumer, tally: &tally)
            default: reassembler.fin(at: sequence)
            }
            precondition(reassembler.heldBytes <= reassembler.maxBufferedBytes, "held more than the limit")
            if let next = reassembler.nextSequence {
                precondition(UInt32(truncatingIfNeeded: consumer.position) == next &- start, "delivered bytes and gaps do not add up")
            }
        }
        reassembler.close(timestampNs: clockNs, into: &consumer, tally: &tally)
    }

    /// Where a stream stands: bytes received plus bytes given up as gaps.
    private struct StreamPosition: ByteStreamConsumer {
        var position: Int64 = 0
        mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
            precondition(!bytes.isEmpty, "empty delivery")
            position += Int64(bytes.count)
        }
        mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally) {
            precondition(byteCount > 0, "empty gap")
            position += Int64(byteCount)
        }
    }

    /// A client-to-server byte stream cut into pieces, some replaced by gaps. Input: a seed byte for
    /// the cuts, then the stream.
    /// Checks: every message kept is within the body limit.
    public static func http1Request(_ bytes: UnsafeRawBufferPointer) {
        var parser = HTTP1RequestParser(limits: limits)
        feed(bytes, into: &parser) { parser in
            for case .message(let message, _, _) in parser.takeEvents() {
                precondition(message.body.count <= limits.maxBodyBytes, "body over the limit")
            }
        }
    }

    /// A server-to-client byte stream answering requests of chosen methods. Input: a byte choosing
    /// the methods, a seed byte for the cuts, then the stream.
    /// Checks: every message kept is within the body limit.
    public static func http1Response(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let methods = ["GET", "HEAD", "POST", "CONNECT"]
        var parser = HTTP1ResponseParser(limits: limits)
        var choice = input.byte()
        for i in 0..<4 {
            parser.expect(method: methods[Int(choice & 3)], requestStartNs: Int64(i))
            choice >>= 2
        }
        feed(input.rest(), into: &parser) { parser in
            for case .message(let message, _, _) in parser.takeEvents() {
                precondition(message.body.count <= limits.maxBodyBytes, "body over the limit")
            }
        }
    }

    /// Cuts `bytes` (after a seed byte) into pieces of 1 to 64 bytes; a piece whose draw says so is
    /// reported as a gap instead of delivered.
    private static func feed<P: ByteStreamConsumer & FinishingParser>(
        _ bytes: UnsafeRawBufferPointer, into parser: inout P, check: (inout P) -> Void
    ) {
        var input = FuzzInput(bytes)
        var random = SplitMix64(seed: UInt64(input.byte()))
        var tally = CaptureTally()
        var clockNs: Int64 = 0
        while !input.isEmpty {
            let draw = random.next()
            let piece = input.slice(1 + Int(draw % 64))
            clockNs += 1000
            if draw >> 60 == 0 {
                parser.gap(piece.count, timestampNs: clockNs, tally: &tally)
            } else {
                parser.receive(piece, timestampNs: clockNs, tally: &tally)
            }
            check(&parser)
        }
        parser.finish(tally: &tally)
        check(&parser)
    }
}

/// A parser that can be told its direction ended.
private protocol FinishingParser {
    mutating func finish(tally: inout CaptureTally)
}

extension HTTP1RequestParser: FinishingParser {}
extension HTTP1ResponseParser: FinishingParser {}
