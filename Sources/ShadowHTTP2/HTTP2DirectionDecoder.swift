import NIOCore
import ShadowCore

/// What one direction of a connection said, frame by frame, header blocks decoded.
public enum HTTP2Event: Hashable, Sendable {
    case headers(streamID: UInt32, fields: HPACKHeaderList, endStream: Bool)
    case pushPromise(streamID: UInt32, promisedStreamID: UInt32, fields: HPACKHeaderList)
    /// A header block that was lost (too large, interrupted or undecodable) on a stream.
    case lostHeaders(streamID: UInt32, endStream: Bool)
    case data(streamID: UInt32, bytes: ByteBuffer, endStream: Bool)
    case rstStream(streamID: UInt32, errorCode: UInt32)
    case settings([HTTP2Setting], ack: Bool)
    case goAway(lastStreamID: UInt32, errorCode: UInt32)
    case ping(ack: Bool)
    case windowUpdate(streamID: UInt32, increment: UInt32)
    case priority(streamID: UInt32)
}

/// One direction's frame reader, header block assembler and HPACK context in one.
///
/// Promises: errors never escape; each is counted under its `counterName` in `counters`, and a
/// frame-level error (the stream's framing is lost) restarts the direction, which then finds the
/// next frame boundary as if the capture began there.
public struct HTTP2DirectionDecoder: Sendable {
    public private(set) var reader: HTTP2FrameReader
    public private(set) var blocks: HeaderBlockAssembler
    public private(set) var hpack: HPACKContext
    public private(set) var counters = Counters()
    private var reportedDiscard = 0
    private var reportedUnknownFrames = 0
    private var reportedUnknownEntries = 0

    public init(start: HTTP2FrameReader.Start, limits: HTTP2Limits = HTTP2Limits()) {
        reader = HTTP2FrameReader(start: start, limits: limits)
        blocks = HeaderBlockAssembler(maxBlockBytes: limits.maxHeaderBlockBytes)
        hpack = HPACKContext(fromStart: start != .midConnection, limits: limits)
    }

    /// Applies the SETTINGS the other direction sent: they bound what this direction may send.
    public mutating func apply(peerSettings settings: [HTTP2Setting]) {
        for setting in settings {
            switch setting.identifier {
            case HTTP2Setting.maxFrameSize: reader.maxFrameSize = Int(setting.value)
            case HTTP2Setting.headerTableSize: hpack.announceTableSize(Int(setting.value))
            default: break
            }
        }
    }

    /// A gap in this direction's bytes: framing and HPACK state start over.
    public mutating func restart() {
        reader.restart()
        blocks = HeaderBlockAssembler(maxBlockBytes: blocks.maxBlockBytes)
        hpack.restart()
    }

    /// Feeds bytes and returns the events of the frames they completed.
    public mutating func ingest(_ bytes: ByteBuffer) -> [HTTP2Event] {
        reader.append(bytes)
        var events: [HTTP2Event] = []
        while true {
            let frame: HTTP2Frame?
            do {
                frame = try reader.next()
            } catch {
                counters.add(error.counterName)
                restart()
                continue
            }
            guard let frame else { break }
            counters.add("http2_frames")
            if let event = event(for: frame) { events.append(event) }
        }
        syncCounts()
        return events
    }

    private mutating func syncCounts() {
        counters.add("http2_discarded_bytes", Int64(reader.discardedBytes - reportedDiscard))
        reportedDiscard = reader.discardedBytes
        counters.add("http2_unknown_frame_type", Int64(reader.unknownFrames - reportedUnknownFrames))
        reportedUnknownFrames = reader.unknownFrames
        counters.add("hpack_unknown_entry", Int64(hpack.unknownEntries - reportedUnknownEntries))
        reportedUnknownEntries = hpack.unknownEntries
    }

    private mutating func event(for frame: HTTP2Frame) -> HTTP2Event? {
        let outcome: HeaderBlockAssembler.Outcome
        do {
            outcome = try blocks.accept(frame)
        } catch {
            counters.add(error.counterName)
            switch error {
            case .tooLarge(_, let stream, _, _):
                hpack.restart()
                return .lostHeaders(streamID: stream, endStream: frame.header.type == .headers && frame.flags.contains(.endStream))
            case .interrupted, .continuationWithoutBlock:
                // The block's fields were never applied to the HPACK table: its state is lost.
                hpack.restart()
                if frame.header.type == .continuation { return nil }
                return event(for: frame)
            }
        }
        switch outcome {
        case .incomplete: return nil
        case .block(let block): return decode(block)
        case .notHeaderBlock: break
        }
        switch frame.payload {
        case .data(let bytes): return .data(streamID: frame.streamID, bytes: bytes, endStream: frame.endStream)
        case .rstStream(let code): return .rstStream(streamID: frame.streamID, errorCode: code)
        case .settings(let settings): return .settings(settings, ack: frame.isAck)
        case .goAway(let last, let code, _): return .goAway(lastStreamID: last, errorCode: code)
        case .ping: return .ping(ack: frame.isAck)
        case .windowUpdate(let increment): return .windowUpdate(streamID: frame.streamID, increment: increment)
        case .priority: return .priority(streamID: frame.streamID)
        case .headers, .pushPromise, .continuation: return nil
        }
    }

    private mutating func decode(_ block: HTTP2HeaderBlock) -> HTTP2Event {
        do {
            let fields = try hpack.decode(block.fragment)
            switch block.kind {
            case .headers(let endStream): return .headers(streamID: block.streamID, fields: fields, endStream: endStream)
            case .pushPromise(let promised): return .pushPromise(streamID: block.streamID, promisedStreamID: promised, fields: fields)
            }
        } catch {
            counters.add(error.counterName)
            if case .headers(let endStream) = block.kind { return .lostHeaders(streamID: block.streamID, endStream: endStream) }
            return .lostHeaders(streamID: block.streamID, endStream: false)
        }
    }
}
