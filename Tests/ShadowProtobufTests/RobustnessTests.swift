import ShadowCore
import ShadowProtobuf
import Testing

/// Untrusted bytes: every input gives a message or a documented error, within the depth limit.
@Suite struct RobustnessTests {
    /// Decodes `bytes` every way and checks the contracts that hold for any input.
    static func check(_ bytes: [UInt8], schema: ProtobufSchema?, type: String?) {
        let schemaless = SchemalessDecoder()
        var results = [(strict: Result { () throws(ProtobufDecodingError) in try schemaless.decode(bytes) }, lenient: schemaless.decodeLeniently(bytes))]
        if let schema, let type, let decoder = schema.decoder(for: type) {
            results.append((Result { () throws(ProtobufDecodingError) in try decoder.decode(bytes) }, decoder.decodeLeniently(bytes)))
        }
        for (strict, lenient) in results {
            if let error = lenient.error {
                #expect((0...bytes.count).contains(error.offset), "\(error) outside the \(bytes.count) input bytes")
                #expect(strict == .failure(error))
            } else {
                #expect(strict == .success(lenient.message))
            }
            #expect(lenient.message.tree == lenient.message.tree)
            _ = ProtobufText.render(lenient.message)
        }
    }

    @Test(arguments: Fixtures.messages.map(\.name))
    func everyPrefixOfAFixtureDecodesOrNamesItsError(name: String) throws {
        let fixture = try #require(Fixtures.messages.first { $0.name == name })
        let bytes = try Fixtures.bytes(name + ".bin")
        for end in 0...bytes.count { Self.check(Array(bytes[..<end]), schema: fixture.schema, type: fixture.type) }
        let cut = SchemalessDecoder().decodeLeniently(Array(bytes.dropLast()))
        #expect(cut.error != nil)
    }

    @Test func seededRandomBytesAndMutatedFixturesNeverCrash() throws {
        var random = SplitMix64(seed: 0x5EED_B0B)
        let seeds = try Fixtures.messages.map { (bytes: try Fixtures.bytes($0.name + ".bin"), schema: $0.schema, type: $0.type) }
        for round in 0..<3000 {
            let seed = seeds[Int(random.next() % UInt64(seeds.count))]
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = seed.bytes
                for _ in 0..<(1 + random.next() % 6) {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            Self.check(bytes, schema: seed.schema, type: seed.type)
        }
    }

    /// `levels` messages each nested in field 1 of the next, innermost holding field 2 = 1.
    static func nested(levels: Int) -> [UInt8] {
        var bytes = TestEncoder.build { $0.varintField(2, 1) }
        for _ in 0..<levels { bytes = TestEncoder.build { $0.bytesField(1, bytes) } }
        return bytes
    }

    static func depth(_ tree: ProtobufTree) -> Int {
        switch tree {
        case .object(let members): 1 + (members.map { depth($0.value) }.max() ?? 0)
        case .array(let items): items.map(depth).max() ?? 0
        default: 0
        }
    }

    @Test func nestingBombsStopAtTheDepthLimit() throws {
        let bomb = Self.nested(levels: 5000)
        let tree = try SchemalessDecoder().decode(bomb).tree
        #expect(Self.depth(tree) == ProtobufLimits.defaultMaxDepth + 1)
        #expect(Self.depth(try SchemalessDecoder(maxDepth: 8).decode(bomb).tree) == 9)

        let node = try #require(Fixtures.testSchema.decoder(for: "shadowdiff.test.Node"))
        #expect(throws: ProtobufDecodingError.self) { try node.decode(bomb) }
        if case .tooDeep(_, let limit) = node.decodeLeniently(bomb).error { #expect(limit == 64) } else { Issue.record("no tooDeep error") }
        let shallow = Self.nested(levels: 10)
        #expect(Self.depth(try node.decode(shallow).tree) == 11)

        let groups = [UInt8](repeating: 0x2B, count: 100_000)
        #expect(throws: ProtobufDecodingError.tooDeep(offset: 64, limit: 64)) { try SchemalessDecoder().decode(groups) }
        #expect(throws: ProtobufDecodingError.tooDeep(offset: 64, limit: 64)) { try node.decode(groups) }
    }

    @Test func hugeClaimedLengthsAreErrorsNotAllocations() {
        let bytes = TestEncoder.build { $0.tag(3, 2); $0.varint(1 << 62) } + [1, 2, 3]
        #expect(throws: ProtobufDecodingError.lengthBeyondEnd(offset: 1, length: 1 << 62, remaining: 3)) {
            try SchemalessDecoder().decode(bytes)
        }
    }

    @Test func repeatedSingularMessagesMergeInLinearTime() throws {
        let decoder = try #require(Fixtures.openRTB.decoder(for: "com.iabtechlab.openrtb.v2.BidRequest"))
        var encoder = TestEncoder()
        for index in 0..<50_000 { encoder.messageField(5) { $0.stringField(2, "ua"); $0.varintField(18, UInt64(index)) } }
        let tree = try decoder.decode(encoder.bytes).tree
        #expect(tree["device"]?["devicetype"] == .number(.int(49_999)))
    }
}
