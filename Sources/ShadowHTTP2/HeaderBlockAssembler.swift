import NIOCore

/// A whole header block: a HEADERS or PUSH_PROMISE fragment and those of its CONTINUATIONs.
public struct HTTP2HeaderBlock: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case headers(endStream: Bool)
        case pushPromise(promisedStreamID: UInt32)
    }

    public var streamID: UInt32
    public var kind: Kind
    public var fragment: ByteBuffer
    /// Offset of the block's first frame in its direction's stream.
    public var offset: Int
    /// Frames the block came in (1 when there was no CONTINUATION).
    public var frames: Int
}

/// Puts header blocks back together from a direction's frames (RFC 9113 §4.3).
///
/// Promises: a block is returned once its END_HEADERS frame arrives; at most `maxBlockBytes` of a
/// block are held. A block that grows past that is dropped with one `tooLarge` error and its later
/// CONTINUATIONs are consumed and counted, however many come. An error leaves no block open, so
/// the frame that caused it may be given again.
public struct HeaderBlockAssembler: Sendable {
    public enum Outcome: Hashable, Sendable {
        case block(HTTP2HeaderBlock)
        /// The frame belongs to a block that is not complete yet (or is being discarded).
        case incomplete
        /// The frame is not part of a header block.
        case notHeaderBlock
    }

    public let maxBlockBytes: Int
    private var open: HTTP2HeaderBlock?
    private var discardingStream: UInt32?
    /// CONTINUATION frames consumed after their block grew too large.
    public private(set) var discardedFrames = 0

    public init(maxBlockBytes: Int = HTTP2Limits().maxHeaderBlockBytes) {
        self.maxBlockBytes = maxBlockBytes
    }

    /// Whether a block is waiting for CONTINUATION frames.
    public var isOpen: Bool { open != nil || discardingStream != nil }

    public mutating func accept(_ frame: HTTP2Frame) throws(HeaderBlockError) -> Outcome {
        if let stream = discardingStream {
            guard frame.header.type == .continuation, frame.streamID == stream else {
                discardingStream = nil
                throw .interrupted(offset: frame.offset, streamID: stream, by: frame.header.type, onStream: frame.streamID)
            }
            discardedFrames += 1
            if frame.endHeaders { discardingStream = nil }
            return .incomplete
        }
        if var block = open {
            guard case .continuation(let fragment) = frame.payload, frame.streamID == block.streamID else {
                open = nil
                throw .interrupted(offset: frame.offset, streamID: block.streamID, by: frame.header.type, onStream: frame.streamID)
            }
            open = nil
            try append(fragment, to: &block, frame: frame)
            block.frames += 1
            return finish(block, frame: frame)
        }
        let block: HTTP2HeaderBlock
        switch frame.payload {
        case .headers(let fragment):
            block = HTTP2HeaderBlock(
                streamID: frame.streamID, kind: .headers(endStream: frame.flags.contains(.endStream)),
                fragment: ByteBufferAllocator().buffer(capacity: 0), offset: frame.offset, frames: 1)
            var started = block
            try append(fragment, to: &started, frame: frame)
            return finish(started, frame: frame)
        case .pushPromise(let promised, let fragment):
            block = HTTP2HeaderBlock(
                streamID: frame.streamID, kind: .pushPromise(promisedStreamID: promised),
                fragment: ByteBufferAllocator().buffer(capacity: 0), offset: frame.offset, frames: 1)
            var started = block
            try append(fragment, to: &started, frame: frame)
            return finish(started, frame: frame)
        case .continuation:
            throw .continuationWithoutBlock(offset: frame.offset, streamID: frame.streamID)
        default:
            return .notHeaderBlock
        }
    }

    private mutating func append(_ fragment: ByteBuffer, to block: inout HTTP2HeaderBlock, frame: HTTP2Frame) throws(HeaderBlockError) {
        let total = block.fragment.readableBytes + fragment.readableBytes
        guard total <= maxBlockBytes else {
            if !frame.endHeaders { discardingStream = block.streamID }
            throw .tooLarge(offset: frame.offset, streamID: block.streamID, bytes: total, limit: maxBlockBytes)
        }
        if frame.endHeaders, block.frames == 1, block.fragment.readableBytes == 0 {
            block.fragment = fragment
        } else {
            var fragment = fragment
            block.fragment.writeBuffer(&fragment)
        }
    }

    private mutating func finish(_ block: HTTP2HeaderBlock, frame: HTTP2Frame) -> Outcome {
        if frame.endHeaders { return .block(block) }
        open = block
        return .incomplete
    }
}
