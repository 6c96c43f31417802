import NIOCore
import ShadowCore
import Testing
@testable import ShadowHTTP2

@Suite struct FrameReaderTests {
    @Test func prefaceThenFramesFedByteByByte() {
        let bytes = HTTP2Sniffer.clientPreface + Wire.settings([(0x3, 100), (0x4, 65535)])
            + Wire.frame(.ping, [1, 2, 3, 4, 5, 6, 7, 8]) + Wire.frame(.windowUpdate, stream: 0, [0, 0, 0x10, 0])
        let read = frames(of: bytes, start: .clientPreface, piece: 1)
        #expect(read.error == nil)
        #expect(read.reader.sawPreface)
        #expect(read.frames.map(\.header.type) == [.settings, .ping, .windowUpdate])
        #expect(read.frames[0].payload == .settings([HTTP2Setting(identifier: 3, value: 100), HTTP2Setting(identifier: 4, value: 65535)]))
        #expect(read.frames[1].payload == .ping(opaque: 0x0102_0304_0506_0708))
        #expect(read.frames[2].payload == .windowUpdate(increment: 4096))
        #expect(read.frames[1].offset == 24 + 9 + 12)
    }

    @Test func aMissingPrefaceIsAnErrorThatNamesItsOffset() {
        let read = frames(of: Array("GET / HTTP/1.1\r\n\r\n".utf8), start: .clientPreface)
        #expect(read.error == .badPreface(offset: 0))
        #expect(read.error?.description == "bytes at offset 0 are not the client connection preface")
    }

    @Test func paddingAndPriorityFieldsAreStripped() {
        let padded = Wire.frame(.data, flags: 0x8 | 0x1, stream: 1, [3] + Array("body".utf8) + [0, 0, 0])
        let headers = Wire.frame(.headers, flags: 0x8 | 0x20 | 0x4, stream: 3, [2, 0x80, 0, 0, 1, 15, 0x82, 0x84, 0, 0])
        let promise = Wire.frame(.pushPromise, flags: 0x8 | 0x4, stream: 3, [1, 0x80, 0, 0, 2, 0x82, 0])
        let read = frames(of: padded + headers + promise)
        #expect(read.error == nil)
        #expect(read.frames[0].payload == .data(ByteBuffer(string: "body")))
        #expect(read.frames[0].endStream)
        #expect(read.frames[1].payload == .headers(fragment: ByteBuffer(bytes: [0x82, 0x84])))
        #expect(read.frames[2].payload == .pushPromise(promisedStreamID: 2, fragment: ByteBuffer(bytes: [0x82])))
    }

    @Test func paddingLongerThanThePayloadIsAnError() {
        let read = frames(of: Wire.frame(.data, flags: 0x8, stream: 5, [10, 1, 2]))
        #expect(read.error == .badPadding(offset: 0, type: .data, streamID: 5, padLength: 10, length: 3))
    }

    @Test func a70000ByteDataFrameIsReadWhenThePeerAllowedIt() {
        let body = (0..<70_000).map { UInt8(truncatingIfNeeded: $0) }
        let bytes = Wire.data(stream: 1, endStream: true, body)
        let refused = frames(of: bytes, piece: 1400)
        #expect(refused.error == .frameTooLarge(offset: 0, type: .data, streamID: 1, length: 70_000, limit: 16_384))
        let allowed = frames(of: bytes, piece: 1400) { $0.maxFrameSize = 1 << 17 }
        #expect(allowed.error == nil)
        #expect(allowed.frames.first?.payload == .data(ByteBuffer(bytes: body)))
    }

    @Test func theMaxFrameSizeHasAHardCap() {
        var reader = HTTP2FrameReader(start: .frames, limits: HTTP2Limits(maxFrameSize: 100_000))
        reader.maxFrameSize = (1 << 24) - 1
        #expect(reader.maxFrameSize == 100_000)
        reader.append(HTTP2FrameHeader(length: (1 << 24) - 1, type: .data, flags: [], streamID: 1).bytes)
        #expect(throws: HTTP2FrameError.frameTooLarge(offset: 0, type: .data, streamID: 1, length: (1 << 24) - 1, limit: 100_000)) { try reader.next() }
    }

    @Test func theReservedBitOfAStreamIDIsMasked() {
        let read = frames(of: Wire.data(stream: 0x8000_0000 | 7, [1]) + Wire.data(stream: 0xFFFF_FFFF, [2]) + Wire.data(stream: 0x8000_0000, [3]))
        #expect(read.frames.map(\.streamID) == [7, 0x7FFF_FFFF])
        #expect(read.error == .missingStreamID(offset: 20, type: .data))
    }

    @Test func unknownFrameTypesAreSkippedAndCounted() {
        let read = frames(of: Wire.frame(HTTP2FrameType(rawValue: 0xB), stream: 0, [1, 2, 3]) + Wire.frame(.ping, [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(read.frames.map(\.header.type) == [.ping])
        #expect(read.reader.unknownFrames == 1)
    }

    @Test(arguments: [
        (Wire.frame(.ping, [1, 2, 3]), HTTP2FrameError.badLength(offset: 0, type: .ping, streamID: 0, length: 3, expected: "8")),
        (Wire.frame(.settings, [0, 1, 0]), .badLength(offset: 0, type: .settings, streamID: 0, length: 3, expected: "a multiple of 6")),
        (Wire.frame(.settings, flags: 1, [0, 0, 0, 0, 0, 0]), .badLength(offset: 0, type: .settings, streamID: 0, length: 6, expected: "0 for an ACK")),
        (Wire.frame(.settings, stream: 1), .unexpectedStreamID(offset: 0, type: .settings, streamID: 1)),
        (Wire.frame(.rstStream, stream: 1, [0, 0]), .badLength(offset: 0, type: .rstStream, streamID: 1, length: 2, expected: "4")),
        (Wire.frame(.priority, stream: 1, [0]), .badLength(offset: 0, type: .priority, streamID: 1, length: 1, expected: "5")),
        (Wire.frame(.goAway, [0, 0, 0, 1]), .badLength(offset: 0, type: .goAway, streamID: 0, length: 4, expected: "at least 8")),
        (Wire.frame(.headers, stream: 0, [0x82]), .missingStreamID(offset: 0, type: .headers)),
        (Wire.frame(.headers, flags: 0x20, stream: 1, [0, 0]), .badLength(offset: 0, type: .headers, streamID: 1, length: 2, expected: "room for the 5-byte priority fields")),
        (Wire.frame(.windowUpdate, stream: 1, [0]), .badLength(offset: 0, type: .windowUpdate, streamID: 1, length: 1, expected: "4")),
    ])
    func corruptFramesAreErrorsAndTheReaderStaysFailed(bytes: [UInt8], error: HTTP2FrameError) {
        var reader = HTTP2FrameReader(start: .frames)
        reader.append(bytes)
        #expect(throws: error) { try reader.next() }
        reader.append(Wire.frame(.ping, [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(throws: error) { try reader.next() }
        #expect(reader.discardedBytes == 17)
        #expect(reader.failure == error)
    }

    @Test func midConnectionReadingStartsAtTheFirstPlausibleFrameBoundary() {
        let stream = Wire.data(stream: 1, Array(repeating: 0xAB, count: 40)) + Wire.headers(stream: 3, [0x82, 0x86, 0x84])
            + Wire.frame(.windowUpdate, [0, 0, 1, 0])
        let cut = Array(stream[17...])
        let read = frames(of: cut, start: .midConnection, piece: 7)
        #expect(read.error == nil)
        #expect(read.frames.map(\.header.type) == [.headers, .windowUpdate])
        #expect(read.reader.discardedBytes == 49 - 17)
        #expect(read.frames[0].offset == 49 - 17)
    }

    @Test func midConnectionReadingTakesThePrefaceWhenItIsThere() {
        let read = frames(of: HTTP2Sniffer.clientPreface + Wire.settings([]), start: .midConnection, piece: 5)
        #expect(read.reader.sawPreface)
        #expect(read.frames.count == 1)
    }

    @Test func restartAfterAGapResynchronises() throws {
        var reader = HTTP2FrameReader(start: .frames)
        reader.append(Wire.data(stream: 1, Array(repeating: 1, count: 30)).prefix(20))
        #expect(try reader.next() == nil)
        reader.restart()
        reader.append([9, 9, 9] + Wire.data(stream: 1, endStream: true, [7]) + Wire.frame(.ping, [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(try reader.next()?.payload == .data(ByteBuffer(bytes: [7])))
        #expect(try reader.next()?.header.type == .ping)
        #expect(reader.discardedBytes == 3)
    }
}

@Suite struct SnifferTests {
    @Test func recognisesThePrefaceAndItsPrefix() {
        #expect(HTTP2Sniffer.sniff(HTTP2Sniffer.clientPreface + [0, 0]) == .preface)
        #expect(HTTP2Sniffer.sniff(HTTP2Sniffer.clientPreface.prefix(10)) == .needMoreBytes)
    }

    @Test func recognisesFramesMidConnection() {
        let frames = Wire.settings([(4, 1 << 20)]) + Wire.headers(stream: 1, [0x88]) + Wire.data(stream: 1, [1, 2, 3])
        #expect(HTTP2Sniffer.sniff(frames) == .frames(offset: 0))
        #expect(HTTP2Sniffer.sniff(frames.prefix(5)) == .needMoreBytes)
        #expect(HTTP2Sniffer.sniff([0xFF] + frames, scanLimit: 16) == .frames(offset: 1))
    }

    @Test(arguments: ["GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: ", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: ", "\u{0}"])
    func rejectsOtherProtocols(start: String) {
        let bytes = Array(start.utf8) + Array(repeating: start == "\u{0}" ? 0 : 0x61, count: 100)
        #expect(HTTP2Sniffer.sniff(bytes, scanLimit: 64) == .notHTTP2)
    }
}
