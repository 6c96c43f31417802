import ShadowProtobuf
import Testing

@Suite struct ProtobufTreeTests {
    @Test func nonFiniteFloatingPointBecomesProto3JSONStrings() throws {
        let bytes = TestEncoder.build { $0.fixed64Field(13, Double.nan.bitPattern); $0.fixed32Field(12, (-Float.infinity).bitPattern) }
        let decoder = try #require(Fixtures.testSchema.decoder(for: "shadowdiff.test.Scalars"))
        let message = try decoder.decode(bytes)
        #expect(message.tree["db"] == .string("NaN"))
        #expect(message.tree["fl"] == .string("-Infinity"))
        #expect(message.tree == message.tree)
        #expect(ProtobufText.render(message) == "fl: -inf\ndb: nan\n")
    }

    @Test func numbersSayWhenADoubleWouldLosePrecision() {
        #expect(ProtobufNumber.int(1 << 53).isExactAsDouble)
        #expect(!ProtobufNumber.int(-(1 << 53) - 1).isExactAsDouble)
        #expect(!ProtobufNumber.uint(.max).isExactAsDouble)
        #expect(ProtobufNumber.uint(.max).decimalText == "18446744073709551615")
        #expect(ProtobufNumber.double(2).decimalText == "2")
        #expect(ProtobufNumber.double(0.1).decimalText == "0.1")
    }

    @Test func bytesAreBase64() throws {
        let decoder = try #require(Fixtures.testSchema.decoder(for: "shadowdiff.test.Scalars"))
        for (input, expected) in [([UInt8](), ""), ([0x66], "Zg=="), ([0x66, 0x6F], "Zm8="), ([0x66, 0x6F, 0x6F], "Zm9v"), ([0xFB, 0xFF], "+/8=")] {
            let tree = try decoder.decode(TestEncoder.build { $0.bytesField(15, input) }).tree
            #expect(tree["data"] == .string(expected))
        }
    }
}
