import NIOCore

extension HTTP2FramePayload {
    /// Parses the payload of a frame of a known type, checking the lengths, padding and stream
    /// ids RFC 9113 §6 requires.
    init(header: HTTP2FrameHeader, payload: ByteBuffer, offset: Int) throws(HTTP2FrameError) {
        var payload = payload
        let type = header.type, stream = header.streamID, length = header.length
        func badLength(_ expected: String) -> HTTP2FrameError {
            .badLength(offset: offset, type: type, streamID: stream, length: length, expected: expected)
        }
        func requireStream() throws(HTTP2FrameError) {
            if stream == 0 { throw .missingStreamID(offset: offset, type: type) }
        }
        func requireConnection() throws(HTTP2FrameError) {
            if stream != 0 { throw .unexpectedStreamID(offset: offset, type: type, streamID: stream) }
        }
        func unpad(priority: Bool) throws(HTTP2FrameError) {
            var padding = 0
            if header.flags.contains(.padded) {
                guard let pad = payload.readInteger(as: UInt8.self) else { throw badLength("at least 1 byte for the pad length") }
                padding = Int(pad)
            }
            if priority {
                guard payload.readableBytes >= 5 else { throw badLength("room for the 5-byte priority fields") }
                payload.moveReaderIndex(forwardBy: 5)
            }
            guard padding <= payload.readableBytes else {
                throw .badPadding(offset: offset, type: type, streamID: stream, padLength: padding, length: length)
            }
            payload.moveWriterIndex(to: payload.writerIndex - padding)
        }

        switch type {
        case .data:
            try requireStream()
            try unpad(priority: false)
            self = .data(payload)
        case .headers:
            try requireStream()
            try unpad(priority: header.flags.contains(.priority))
            self = .headers(fragment: payload)
        case .priority:
            try requireStream()
            guard length == 5 else { throw badLength("5") }
            self = .priority
        case .rstStream:
            try requireStream()
            guard length == 4 else { throw badLength("4") }
            self = .rstStream(errorCode: payload.readInteger()!)
        case .settings:
            try requireConnection()
            if header.flags.contains(.ack) {
                guard length == 0 else { throw badLength("0 for an ACK") }
                self = .settings([])
                return
            }
            guard length % 6 == 0 else { throw badLength("a multiple of 6") }
            var settings: [HTTP2Setting] = []
            settings.reserveCapacity(length / 6)
            while let identifier = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
                settings.append(HTTP2Setting(identifier: identifier, value: value))
            }
            self = .settings(settings)
        case .pushPromise:
            try requireStream()
            try unpad(priority: false)
            guard let promised = payload.readInteger(as: UInt32.self) else { throw badLength("room for the promised stream id") }
            self = .pushPromise(promisedStreamID: promised & 0x7FFF_FFFF, fragment: payload)
        case .ping:
            try requireConnection()
            guard length == 8 else { throw badLength("8") }
            self = .ping(opaque: payload.readInteger()!)
        case .goAway:
            try requireConnection()
            guard length >= 8 else { throw badLength("at least 8") }
            let last: UInt32 = payload.readInteger()!
            let code: UInt32 = payload.readInteger()!
            self = .goAway(lastStreamID: last & 0x7FFF_FFFF, errorCode: code, debugData: payload)
        case .windowUpdate:
            guard length == 4 else { throw badLength("4") }
            self = .windowUpdate(increment: payload.readInteger(as: UInt32.self)! & 0x7FFF_FFFF)
        default:
            try requireStream()
            self = .continuation(fragment: payload)
        }
    }
}
