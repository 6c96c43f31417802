import ShadowProtobuf
import Testing

@Suite struct SchemaDecoderTests {
    func decode(_ name: String, as type: String, schema: ProtobufSchema = Fixtures.openRTB) throws -> ProtobufMessage {
        let decoder = try #require(schema.decoder(for: type))
        return try decoder.decode(Fixtures.bytes(name))
    }

    @Test(arguments: Fixtures.messages.map(\.name))
    func textEqualsProtocDecodeOfTheSameBytes(name: String) throws {
        let fixture = try #require(Fixtures.messages.first { $0.name == name })
        let message = try decode(name + ".bin", as: fixture.type, schema: fixture.schema)
        #expect(ProtobufText.render(message) == (try Fixtures.text(name + ".decoded.txt")))
    }

    @Test func bidResponseFieldsHaveTheirOpenRTBNames() throws {
        let tree = try decode("bidresponse.bin", as: Fixtures.bidResponse).tree
        let bid = try #require(tree["seatbid"]?[0]?["bid"]?[0])
        #expect(bid["id"] == .string("bid-1"))
        #expect(bid["impid"] == .string("imp-1"))
        #expect(bid["price"] == .number(.double(1.25)))
        #expect(bid["adid"] == .string("ad-77"))
        #expect(bid["nurl"] == .string("https://win.example/n?p=${AUCTION_PRICE}"))
        #expect(bid["adomain"] == .array([.string("advertiser.example"), .string("brand.example")]))
        #expect(bid["iurl"] == .string("https://cdn.example/i.png"))
        #expect(bid["cid"] == .string("campaign-9"))
        #expect(bid["crid"] == .string("creative-42"))
        #expect(bid["dealid"] == .string("deal-5"))
        #expect(bid["attr"] == .array([.number(.int(1)), .number(.int(3)), .number(.int(150))]))
        #expect(tree["seatbid"]?[0]?["seat"] == .string("seat-a"))
        #expect(tree["seatbid"]?[0]?["bid"]?[1]?["price"] == .number(.double(0.5)))
        #expect(try decode("nobid.bin", as: Fixtures.bidResponse).tree == .object([
            .init(key: "id", value: .string("resp-nobid")), .init(key: "nbr", value: .number(.int(2))),
        ]))
        let request = try decode("bidrequest.bin", as: "com.iabtechlab.openrtb.v2.BidRequest").tree
        #expect(request["imp"]?[0]?["pmp"]?["deals"]?[0]?["bidfloor"] == .number(.double(2.5)))
        #expect(request["device"]?["geo"]?["lat"] == .number(.double(52.52)))
    }

    @Test func everyScalarTypeKeepsItsExactValue() throws {
        let tree = try decode("scalars.bin", as: "shadowdiff.test.Scalars", schema: Fixtures.testSchema).tree
        #expect(tree["i32"] == .number(.int(-7)))
        #expect(tree["i64"] == .number(.int(.min)))
        #expect(tree["u32"] == .number(.uint(4_294_967_295)))
        #expect(tree["u64"] == .number(.uint(.max)))
        #expect(tree["s32"] == .number(.int(-3)))
        #expect(tree["s64"] == .number(.int(9_007_199_254_740_993)))
        #expect(tree["f32"] == .number(.uint(3_000_000_000)))
        #expect(tree["f64"] == .number(.uint(12_345_678_901_234_567_890)))
        #expect(tree["sf32"] == .number(.int(-2)))
        #expect(tree["sf64"] == .number(.int(-9_007_199_254_740_993)))
        #expect(tree["flag"] == .bool(true))
        #expect(tree["fl"] == .number(.double(1.1)))
        #expect(tree["db"] == .number(.double(-0.1)))
        #expect(tree["text"] == .string("café \"quoted\"\n"))
        #expect(tree["data"] == .string("AAH/"))
        #expect(tree["color"] == .string("GREEN"))
        guard case .number(let s64) = tree["s64"] else { Issue.record("s64 is not a number"); return }
        #expect(!s64.isExactAsDouble && s64.decimalText == "9007199254740993")
    }

    @Test func mapsRepeatsAndEnumsOfProto3() throws {
        let tree = try decode("collections.bin", as: "shadowdiff.test.Collections", schema: Fixtures.testSchema).tree
        #expect(tree["packed_ints"] == tree["plain_ints"])
        #expect(tree["packed_ints"] == .array([.number(.int(1)), .number(.int(-1)), .number(.int(300))]))
        #expect(tree["names"] == .array([.string("a"), .string("b")]))
        #expect(tree["counts"] == .object([
            .init(key: "a", value: .number(.int(-9_007_199_254_740_993))), .init(key: "x", value: .number(.int(5))),
        ]))
        #expect(tree["by_id"] == .object([.init(key: "7", value: .object([.init(key: "text", value: .string("seven"))]))]))
        #expect(tree["colors"] == .array([.string("RED"), .string("GREEN")]))
        #expect(tree["single"] == .object([.init(key: "i32", value: .number(.int(1)))]))
        #expect(tree["prices"] == .array([.number(.double(1.5)), .number(.double(2.25))]))
    }

    @Test func proto2GroupsAndExtensions() throws {
        let tree = try decode("legacy.bin", as: "shadowdiff.test2.Legacy", schema: Fixtures.testSchema).tree
        #expect(tree == .object([
            .init(key: "id", value: .number(.int(5))),
            .init(key: "Item", value: .object([.init(key: "label", value: .string("grouped"))])),
            .init(key: "[shadowdiff.test2.note]", value: .string("extended")),
        ]))
    }

    @Test func packedAndUnpackedBidAttributesCompareEqual() throws {
        let decoder = try #require(Fixtures.openRTB.decoder(for: Fixtures.bidResponse))
        func response(_ attributes: (inout TestEncoder) -> Void) throws -> ProtobufTree {
            try decoder.decode(TestEncoder.build { $0.messageField(2) { $0.messageField(1) { attributes(&$0) } } }).tree
        }
        let packed = try response { $0.packedField(11, [1, 3, 150]) }
        let unpacked = try response { for n: UInt64 in [1, 3, 150] { $0.varintField(11, n) } }
        #expect(packed == unpacked)
        #expect(packed["seatbid"]?[0]?["bid"]?[0]?["attr"] == .array([.number(.int(1)), .number(.int(3)), .number(.int(150))]))
    }

    @Test func unknownFieldsAndMismatchedWireTypesAreKeptByNumber() throws {
        let decoder = try #require(Fixtures.openRTB.decoder(for: Fixtures.bidResponse))
        let tree = try decoder.decode(TestEncoder.build { $0.stringField(1, "r"); $0.stringField(6, "two"); $0.varintField(99, 7) }).tree
        #expect(tree == .object([
            .init(key: "id", value: .string("r")), .init(key: "6", value: .string("two")), .init(key: "99", value: .number(.uint(7))),
        ]))
    }

    @Test func aDeclaredFieldAndValuesOfItsNumberThatDoNotFitStayApart() throws {
        let decoder = try #require(Fixtures.openRTB.decoder(for: Fixtures.bidResponse))
        let tree = try decoder.decode(TestEncoder.build { $0.varintField(6, 2); $0.stringField(6, "two"); $0.varintField(6, 3) }).tree
        #expect(tree == .object([.init(key: "nbr", value: .number(.int(3))), .init(key: "6", value: .string("two"))]))
    }

    @Test func unknownEnumNumbersAreKeptAsNumbers() throws {
        let decoder = try #require(Fixtures.testSchema.decoder(for: "shadowdiff.test.Scalars"))
        #expect(try decoder.decode(TestEncoder.build { $0.varintField(16, 9) }).tree["color"] == .number(.int(9)))
        #expect(try decoder.decode(TestEncoder.build { $0.signedField(16, -1) }).tree["color"] == .number(.int(-1)))
    }

    @Test func singularFieldsKeepTheLastScalarAndMergeMessages() throws {
        let decoder = try #require(Fixtures.openRTB.decoder(for: "com.iabtechlab.openrtb.v2.BidRequest"))
        let tree = try decoder.decode(TestEncoder.build { encoder in
            encoder.stringField(1, "first")
            encoder.messageField(5) { $0.stringField(2, "ua"); $0.stringField(3, "198.51.100.1") }
            encoder.stringField(1, "second")
            encoder.messageField(5) { $0.stringField(3, "192.0.2.9") }
        }).tree
        #expect(tree["id"] == .string("second"))
        #expect(tree["device"] == .object([.init(key: "ua", value: .string("ua")), .init(key: "ip", value: .string("192.0.2.9"))]))
    }

    @Test func mapKeysAreUniqueTheLastEntryWinning() throws {
        let decoder = try #require(Fixtures.testSchema.decoder(for: "shadowdiff.test.Collections"))
        let tree = try decoder.decode(TestEncoder.build { encoder in
            encoder.messageField(4) { $0.stringField(1, "k"); $0.varintField(2, 1) }
            encoder.messageField(4) { $0.stringField(1, "k"); $0.varintField(2, 2) }
            encoder.messageField(4) { $0.varintField(2, 3) }
        }).tree
        #expect(tree["counts"] == .object([.init(key: "", value: .number(.int(3))), .init(key: "k", value: .number(.int(2)))]))
    }

    @Test func invalidUTF8InAStringFieldIsKeptAsBytes() throws {
        let decoder = try #require(Fixtures.testSchema.decoder(for: "shadowdiff.test.Scalars"))
        let message = try decoder.decode(TestEncoder.build { $0.bytesField(14, [0x66, 0xFF]) })
        #expect(message.field(named: "text")?.values == [.bytes([0x66, 0xFF])])
        #expect(ProtobufText.render(message) == "text: \"f\\377\"\n")
    }

    @Test func schemaLooksUpTypesByFullName() throws {
        #expect(Fixtures.openRTB.messageTypeNames.contains(Fixtures.bidResponse))
        #expect(Fixtures.openRTB.messageTypeNames.contains("com.iabtechlab.openrtb.v2.BidResponse.SeatBid.Bid"))
        #expect(Fixtures.openRTB.enumTypeNames.contains("com.iabtechlab.openrtb.v2.ContextType"))
        #expect(Fixtures.openRTB.decoder(for: "." + Fixtures.bidResponse)?.typeName == Fixtures.bidResponse)
        #expect(Fixtures.openRTB.decoder(for: "BidResponse") == nil)
        #expect(throws: ProtobufSchemaError.self) { try ProtobufSchema(descriptorSet: [0x0A, 0x05, 0x01]) }
    }
}
