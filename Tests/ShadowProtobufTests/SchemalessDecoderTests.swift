import ShadowProtobuf
import Testing

@Suite struct SchemalessDecoderTests {
    let decoder = SchemalessDecoder()

    @Test func realBidResponseGivesTheValuesOfItsTextFile() throws {
        let tree = try decoder.decode(Fixtures.bytes("bidresponse.bin")).tree
        #expect(tree["1"] == .string("resp-7f3a"))
        #expect(tree["3"] == .string("bidid-1"))
        #expect(tree["4"] == .string("USD"))
        let seatbid = try #require(tree["2"])
        #expect(seatbid["2"] == .string("seat-a"))
        let bid = try #require(seatbid["1"]?[0])
        #expect(bid["1"] == .string("bid-1"))
        #expect(bid["2"] == .string("imp-1"))
        #expect(bid["3"] == .object([
            .init(key: "fixed64", value: .number(.uint(0x3FF4_0000_0000_0000))),
            .init(key: "double", value: .number(.double(1.25))),
        ]))
        #expect(bid["6"] == .string("<div class=\"ad\">Hello</div>"))
        #expect(bid["7"] == .array([.string("advertiser.example"), .string("brand.example")]))
        #expect(bid["10"] == .string("creative-42"))
        #expect(bid["11"] == .array([.number(.uint(1)), .number(.uint(3)), .number(.uint(150))]))
        #expect(bid["13"] == .string("deal-5"))
        #expect(bid["16"] == .number(.uint(300)))
        #expect(seatbid["1"]?[1]?["10"] == .string("creative-43"))
        #expect(try decoder.decode(Fixtures.bytes("nobid.bin")).tree["6"] == .number(.uint(2)))
    }

    @Test func packedAndUnpackedRepeatsCompareEqual() throws {
        let unpacked = TestEncoder.build { for n: UInt64 in [1, 300, 70000] { $0.varintField(11, n) } }
        let packed = TestEncoder.build { $0.packedField(11, [1, 300, 70000]) }
        let mixed = TestEncoder.build { $0.varintField(11, 1); $0.packedField(11, [300, 70000]) }
        let trees = try [unpacked, packed, mixed].map { try decoder.decode($0).tree }
        #expect(trees[0] == trees[1] && trees[1] == trees[2])
        #expect(trees[0]["11"] == .array([.number(.uint(1)), .number(.uint(300)), .number(.uint(70000))]))
        let single = try [TestEncoder.build { $0.varintField(2, 5) }, TestEncoder.build { $0.packedField(2, [5]) }].map { try decoder.decode($0) }
        #expect(single[0] == single[1])
        let collections = try decoder.decode(Fixtures.bytes("collections.bin")).tree
        #expect(collections["1"] == collections["2"])
    }

    @Test func lengthDelimitedTriesMessageThenTextThenPackedThenBytes() throws {
        let bytes = TestEncoder.build { encoder in
            encoder.messageField(1) { $0.varintField(1, 150); $0.stringField(2, "inner") }
            encoder.stringField(2, "hello, world")
            encoder.bytesField(3, [0x05, 0x96, 0x01])
            encoder.bytesField(4, [0xFF, 0xFE])
            encoder.bytesField(5, [])
        }
        let tree = try decoder.decode(bytes).tree
        #expect(tree["1"] == .object([.init(key: "1", value: .number(.uint(150))), .init(key: "2", value: .string("inner"))]))
        #expect(tree["2"] == .string("hello, world"))
        #expect(tree["3"] == .array([.number(.uint(5)), .number(.uint(150))]))
        #expect(tree["4"] == .string("//4="))
        #expect(tree["5"] == .string(""))
    }

    @Test func fixedWidthsAreReadAsIntegerAndFloatingPoint() throws {
        let bytes = TestEncoder.build { $0.fixed32Field(1, Float(1.5).bitPattern); $0.fixed64Field(2, (-2.5).bitPattern) }
        let message = try decoder.decode(bytes)
        #expect(message.tree["1"] == .object([.init(key: "fixed32", value: .number(.uint(0x3FC0_0000))), .init(key: "float", value: .number(.double(1.5)))]))
        #expect(message.tree["2"]?["double"] == .number(.double(-2.5)))
        #expect(ProtobufText.render(message) == "1: 1069547520 # float 1.5\n2: 13836183955189006336 # double -2.5\n")
    }

    @Test func groupsDecodeAsNestedMessages() throws {
        let bytes = TestEncoder.build { $0.tag(2, 3); $0.stringField(3, "grouped"); $0.tag(2, 4); $0.varintField(1, 5) }
        let tree = try decoder.decode(bytes).tree
        #expect(tree == .object([.init(key: "1", value: .number(.uint(5))), .init(key: "2", value: .object([.init(key: "3", value: .string("grouped"))]))]))
        #expect(throws: ProtobufDecodingError.unterminatedGroup(offset: 0, field: 2)) { try decoder.decode([0x13]) }
        #expect(throws: ProtobufDecodingError.unexpectedEndGroup(offset: 0, field: 2)) { try decoder.decode([0x14]) }
    }

    @Test func textRenderingUsesFieldNumbersAndShowsBothFixedReadings() throws {
        let text = ProtobufText.render(try decoder.decode(Fixtures.bytes("bidresponse.bin")))
        #expect(text.hasPrefix("1: \"resp-7f3a\"\n2 {\n  1 {\n    1: \"bid-1\"\n    2: \"imp-1\"\n    3: 4608308318706860032 # double 1.25\n"))
        #expect(text.contains("    7: \"advertiser.example\"\n    7: \"brand.example\"\n"))
        #expect(text.contains("    11: 1\n    11: 3\n    11: 150\n"))
    }

    @Test func leniencyKeepsTheFieldsBeforeAnError() {
        let bytes = TestEncoder.build { $0.varintField(1, 7); $0.stringField(2, "ok") } + [0x1A, 0x09, 0x41]
        let decoding = decoder.decodeLeniently(bytes)
        #expect(decoding.message.tree == .object([.init(key: "1", value: .number(.uint(7))), .init(key: "2", value: .string("ok"))]))
        #expect(decoding.error == .lengthBeyondEnd(offset: 7, length: 9, remaining: 1))
        #expect(decoding.error?.description == "byte 7: length 9 exceeds the 1 bytes left")
    }
}
