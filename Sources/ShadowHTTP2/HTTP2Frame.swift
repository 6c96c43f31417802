import NIOCore

/// The frame types of RFC 9113 §6; any other value is an extension frame, which readers skip.
public struct HTTP2FrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let data = Self(rawValue: 0x0)
    public static let headers = Self(rawValue: 0x1)
    public static let priority = Self(rawValue: 0x2)
    public static let rstStream = Self(rawValue: 0x3)
    public static let settings = Self(rawValue: 0x4)
    public static let pushPromise = Self(rawValue: 0x5)
    public static let ping = Self(rawValue: 0x6)
    public static let goAway = Self(rawValue: 0x7)
    public static let windowUpdate = Self(rawValue: 0x8)
    public static let continuation = Self(rawValue: 0x9)

    public var isKnown: Bool { rawValue <= 0x9 }

    public var description: String {
        let names = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
        return isKnown ? names[Int(rawValue)] : "type 0x\(String(rawValue, radix: 16))"
    }
}

/// Frame flags; each is meaningful only on the frame types RFC 9113 defines it for.
public struct HTTP2FrameFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let endStream = Self(rawValue: 0x1)
    public static let ack = Self(rawValue: 0x1)
    public static let endHeaders = Self(rawValue: 0x4)
    public static let padded = Self(rawValue: 0x8)
    public static let priority = Self(rawValue: 0x20)
}

/// The 9-byte header every frame starts with. `streamID` has the reserved bit cleared.
public struct HTTP2FrameHeader: Hashable, Sendable {
    public static let size = 9

    public var length: Int
    public var type: HTTP2FrameType
    public var flags: HTTP2FrameFlags
    public var streamID: UInt32

    public init(length: Int, type: HTTP2FrameType, flags: HTTP2FrameFlags, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID & 0x7FFF_FFFF
    }

    /// Reads a header from the first 9 of `bytes`; nil when fewer are given.
    public init?<Bytes: Collection<UInt8>>(decoding bytes: Bytes) {
        guard bytes.count >= Self.size else { return nil }
        var at = bytes.startIndex
        func next() -> UInt8 {
            defer { at = bytes.index(after: at) }
            return bytes[at]
        }
        let length = Int(next()) << 16 | Int(next()) << 8 | Int(next())
        let type = HTTP2FrameType(rawValue: next())
        let flags = HTTP2FrameFlags(rawValue: next())
        var stream: UInt32 = 0
        for _ in 0..<4 { stream = stream << 8 | UInt32(next()) }
        self.init(length: length, type: type, flags: flags, streamID: stream)
    }

    /// The header's 9 bytes on the wire.
    public var bytes: [UInt8] {
        [
            UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
            type.rawValue, flags.rawValue,
            UInt8(truncatingIfNeeded: streamID >> 24), UInt8(truncatingIfNeeded: streamID >> 16),
            UInt8(truncatingIfNeeded: streamID >> 8), UInt8(truncatingIfNeeded: streamID),
        ]
    }
}

/// One SETTINGS parameter as sent; unknown identifiers are kept (and ignored by the decoders).
public struct HTTP2Setting: Hashable, Sendable {
    public var identifier: UInt16
    public var value: UInt32

    public init(identifier: UInt16, value: UInt32) {
        self.identifier = identifier
        self.value = value
    }

    public static let headerTableSize: UInt16 = 0x1
    public static let enablePush: UInt16 = 0x2
    public static let maxConcurrentStreams: UInt16 = 0x3
    public static let initialWindowSize: UInt16 = 0x4
    public static let maxFrameSize: UInt16 = 0x5
    public static let maxHeaderListSize: UInt16 = 0x6
}

/// What a frame carries, with padding and PRIORITY fields already removed.
public enum HTTP2FramePayload: Hashable, Sendable {
    case data(ByteBuffer)
    /// A header block fragment; the block continues in CONTINUATION frames unless END_HEADERS is set.
    case headers(fragment: ByteBuffer)
    case priority
    case rstStream(errorCode: UInt32)
    case settings([HTTP2Setting])
    case pushPromise(promisedStreamID: UInt32, fragment: ByteBuffer)
    case ping(opaque: UInt64)
    case goAway(lastStreamID: UInt32, errorCode: UInt32, debugData: ByteBuffer)
    case windowUpdate(increment: UInt32)
    case continuation(fragment: ByteBuffer)
}

/// A decoded frame. `offset` is where its header starts in the direction's byte stream.
public struct HTTP2Frame: Hashable, Sendable {
    public var header: HTTP2FrameHeader
    public var payload: HTTP2FramePayload
    public var offset: Int

    public init(header: HTTP2FrameHeader, payload: HTTP2FramePayload, offset: Int) {
        self.header = header
        self.payload = payload
        self.offset = offset
    }

    public var streamID: UInt32 { header.streamID }
    public var flags: HTTP2FrameFlags { header.flags }
    public var endStream: Bool {
        (header.type == .data || header.type == .headers) && header.flags.contains(.endStream)
    }
    public var endHeaders: Bool { header.flags.contains(.endHeaders) }
    public var isAck: Bool { (header.type == .settings || header.type == .ping) && header.flags.contains(.ack) }
}
