import NIOCore

/// Reads the frames of one direction of an HTTP/2 connection from its bytes, fed in pieces of
/// any size.
///
/// Promises: every frame is returned whole, in order, with padding and PRIORITY fields removed and
/// the reserved bit of stream ids cleared; frames of unknown types are skipped and counted; no
/// more than one frame (at most `maxFrameSize` bytes, itself at most `limits.maxFrameSize`) plus
/// the unread part of the last piece is ever held. After an error the reader stays failed and
/// discards (and counts) what it is given, until `restart()`.
public struct HTTP2FrameReader: Sendable {
    public static let defaultMaxFrameSize = 16_384
    public static let protocolMaxFrameSize = (1 << 24) - 1

    /// How the stream is expected to begin.
    public enum Start: Hashable, Sendable {
        /// The client's side from its first byte: the preface, then frames.
        case clientPreface
        /// The server's side from its first byte: frames.
        case frames
        /// Unknown: the preface if it is there, else the first plausible frame boundary.
        case midConnection
    }

    enum State: Hashable, Sendable {
        case preface(optional: Bool)
        case syncing
        case frames
        case failed(HTTP2FrameError)
    }

    public let limits: HTTP2Limits
    private var state: State
    private var buffer: ByteBuffer
    /// Stream offset of `buffer.readerIndex`.
    private var position = 0
    private var maxFrameSizeValue: Int
    /// Bytes ruled out as frame starts since syncing began.
    private var scanned = 0

    /// Frames of unknown types skipped.
    public private(set) var unknownFrames = 0
    /// Bytes skipped to find a frame boundary, or given after a failure.
    public private(set) var discardedBytes = 0
    /// Bytes consumed as frames or preface.
    public var offset: Int { position }
    /// Whether the preface was seen.
    public private(set) var sawPreface = false

    public init(start: Start, limits: HTTP2Limits = HTTP2Limits()) {
        self.limits = limits
        switch start {
        case .clientPreface: state = .preface(optional: false)
        case .frames: state = .frames
        case .midConnection: state = .preface(optional: true)
        }
        maxFrameSizeValue = start == .midConnection ? limits.maxFrameSize : Self.defaultMaxFrameSize
        buffer = ByteBufferAllocator().buffer(capacity: 0)
    }

    /// The largest frame payload accepted: the SETTINGS_MAX_FRAME_SIZE the receiving peer
    /// announced, at most `limits.maxFrameSize`.
    public var maxFrameSize: Int {
        get { maxFrameSizeValue }
        set { maxFrameSizeValue = min(max(newValue, Self.defaultMaxFrameSize), limits.maxFrameSize) }
    }

    /// The error the reader failed with, if it did.
    public var failure: HTTP2FrameError? {
        if case .failed(let error) = state { return error }
        return nil
    }

    public mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        guard failure == nil else {
            discardedBytes += bytes.readableBytes
            return
        }
        compact()
        buffer.writeBuffer(&bytes)
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else {
            discardedBytes += bytes.underestimatedCount
            return
        }
        compact()
        buffer.writeBytes(bytes)
    }

    /// Forgets the bytes held and the stream's position, after a gap in the stream: what
    /// follows is read as a stream that starts mid-connection. Keeps the counts.
    public mutating func restart() {
        buffer.clear()
        position = 0
        scanned = 0
        state = .syncing
        maxFrameSizeValue = max(maxFrameSizeValue, limits.maxFrameSize)
    }

    /// The next whole frame, or nil until more bytes arrive.
    public mutating func next() throws(HTTP2FrameError) -> HTTP2Frame? {
        while true {
            switch state {
            case .failed(let error):
                discardedBytes += buffer.readableBytes
                buffer.clear()
                throw error
            case .preface(let optional):
                guard try readPreface(optional: optional) else { return nil }
            case .syncing:
                guard try sync() else { return nil }
            case .frames:
                do {
                    guard let frame = try readFrame() else { return nil }
                    if let frame { return frame }
                } catch {
                    state = .failed(error)
                    discardedBytes += buffer.readableBytes
                    buffer.clear()
                    throw error
                }
            }
        }
    }

    private mutating func compact() {
        if buffer.readerIndex > 0, buffer.readerIndex >= buffer.readableBytes {
            buffer.discardReadBytes()
        }
    }

    private mutating func fail(_ error: HTTP2FrameError) -> HTTP2FrameError {
        state = .failed(error)
        discardedBytes += buffer.readableBytes
        buffer.clear()
        return error
    }

    /// Whether the reader moved past the preface stage.
    private mutating func readPreface(optional: Bool) throws(HTTP2FrameError) -> Bool {
        let preface = HTTP2Sniffer.clientPreface
        let have = min(buffer.readableBytes, preface.count)
        let matches = buffer.readableBytesView.prefix(have).elementsEqual(preface.prefix(have))
        if !matches {
            if optional {
                state = .syncing
                return true
            }
            throw fail(.badPreface(offset: position))
        }
        guard have == preface.count else { return false }
        buffer.moveReaderIndex(forwardBy: preface.count)
        position += preface.count
        sawPreface = true
        state = .frames
        maxFrameSizeValue = Self.defaultMaxFrameSize
        return true
    }

    private mutating func sync() throws(HTTP2FrameError) -> Bool {
        let limit = max(0, limits.maxSyncScanBytes - scanned), maxFrame = min(maxFrameSizeValue, Self.defaultMaxFrameSize)
        let (verdict, ruledOut) = buffer.withUnsafeReadableBytes {
            HTTP2Sniffer.scan($0, maxFrameSize: maxFrame, scanLimit: limit)
        }
        let skip = min(ruledOut, buffer.readableBytes)
        buffer.moveReaderIndex(forwardBy: skip)
        discardedBytes += skip
        position += skip
        scanned += skip
        switch verdict {
        case .frames:
            state = .frames
            scanned = 0
            return true
        case .notHTTP2:
            throw fail(.noFrameBoundary(offset: position - scanned, scanned: scanned))
        case .needMoreBytes, .preface:
            return false
        }
    }

    /// `.some(nil)` when a frame was skipped; nil when more bytes are needed.
    private mutating func readFrame() throws(HTTP2FrameError) -> HTTP2Frame?? {
        guard let header = HTTP2FrameHeader(decoding: buffer.readableBytesView) else { return nil }
        let start = position
        guard header.length <= maxFrameSizeValue else {
            throw .frameTooLarge(offset: start, type: header.type, streamID: header.streamID, length: header.length, limit: maxFrameSizeValue)
        }
        guard buffer.readableBytes >= HTTP2FrameHeader.size + header.length else { return nil }
        buffer.moveReaderIndex(forwardBy: HTTP2FrameHeader.size)
        let payload = buffer.readSlice(length: header.length)!
        position += HTTP2FrameHeader.size + header.length
        guard header.type.isKnown else {
            unknownFrames += 1
            return .some(nil)
        }
        return HTTP2Frame(header: header, payload: try HTTP2FramePayload(header: header, payload: payload, offset: start), offset: start)
    }
}
