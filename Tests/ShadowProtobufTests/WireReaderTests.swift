@testable import ShadowProtobuf
import Testing

@Suite struct WireReaderTests {
    @Test func readsVarintsTagsAndFixedWidthsLittleEndian() throws {
        var reader = WireReader([0x96, 0x01, 0x08, 0x01, 0x02, 0x03, 0x04])
        #expect(try reader.varint() == 150)
        let tag = try reader.tag()
        #expect(tag.number == 1 && tag.wireType == .varint && tag.offset == 2)
        #expect(try reader.fixed32() == 0x0403_0201)
        #expect(reader.isAtEnd)
    }

    @Test func rejectsVarintsThatAreCutOrTooLong() {
        var cut = WireReader([0x08, 0x96])
        _ = try? cut.varint()
        #expect(throws: ProtobufDecodingError.truncatedVarint(offset: 1)) { try cut.varint() }
        var long = WireReader([UInt8](repeating: 0xFF, count: 11))
        #expect(throws: ProtobufDecodingError.overlongVarint(offset: 0)) { try long.varint() }
    }

    @Test func rejectsFieldNumberZeroAndWireTypesSixAndSeven() {
        var zero = WireReader([0x00])
        #expect(throws: ProtobufDecodingError.invalidFieldNumber(offset: 0, number: 0)) { try zero.tag() }
        var six = WireReader([0x0E])
        #expect(throws: ProtobufDecodingError.invalidWireType(offset: 0, wireType: 6)) { try six.tag() }
    }

    @Test func checksLengthsAgainstTheBytesLeftWithoutAllocating() {
        var huge = WireReader(TestEncoder.build { $0.tag(1, 2); $0.varint(UInt64.max >> 1) })
        _ = try? huge.tag()
        #expect(throws: ProtobufDecodingError.lengthBeyondEnd(offset: 1, length: UInt64.max >> 1, remaining: 0)) {
            try huge.lengthDelimited()
        }
        var short = WireReader([0x01, 0x02], range: 0..<1)
        #expect(throws: ProtobufDecodingError.truncatedFixed(offset: 0, width: 4, remaining: 1)) { try short.fixed32() }
    }

    @Test func errorMessagesNameTheByteOffset() {
        let error = ProtobufDecodingError.lengthBeyondEnd(offset: 12, length: 300, remaining: 5)
        #expect(error.description == "byte 12: length 300 exceeds the 5 bytes left")
        #expect(error.offset == 12)
    }

    @Test func zigzagDecodesBothWidths() {
        #expect(ZigZag.decode64(0) == 0 && ZigZag.decode64(1) == -1 && ZigZag.decode64(2) == 1)
        #expect(ZigZag.decode64(UInt64.max) == Int64.min)
        #expect(ZigZag.decode32(5) == -3 && ZigZag.decode32(0xFFFF_FFFF) == Int32.min)
    }
}
