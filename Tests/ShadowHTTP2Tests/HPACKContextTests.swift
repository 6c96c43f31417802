import NIOCore
import NIOHPACK
import ShadowCore
import Testing
@testable import ShadowHTTP2

@Suite struct HPACKContextTests {
    static let requests: [[(String, String)]] = (0..<30).map { i in
        [(":method", i % 3 == 0 ? "POST" : "GET"), (":scheme", "http"), (":path", "/item/\(i % 7)"), (":authority", "bidder.local"),
         ("user-agent", "shadow/\(i % 2)"), ("x-request-id", "req-\(i)"), ("content-type", "application/grpc"), ("te", "trailers")]
    }

    /// From the connection's start the context decodes what NIOHPACK's encoder wrote, blocks
    /// that use the dynamic table included, and agrees with NIOHPACK's decoder.
    @Test func decodesLikeNIOHPACKFromTheStart() throws {
        var encoder = Encoder()
        var context = HPACKContext(fromStart: true)
        var reference = HPACKDecoder(allocator: ByteBufferAllocator())
        for fields in Self.requests {
            let block = ByteBuffer(bytes: encoder.block(fields))
            var copy = block
            let expected = try reference.decodeHeaders(from: &copy).map { "\($0.name): \($0.value)" }
            #expect(try context.decode(block).fields.pairs == expected)
        }
        #expect(context.isTableKnown)
        #expect(context.unknownEntries == 0)
        #expect(context.tableEntries > 0)
    }

    /// Mid-connection: entries inserted since the capture began decode exactly; references to
    /// older ones are placeholders, counted, never an error.
    @Test func midConnectionReferencesToOlderEntriesArePlaceholders() throws {
        var encoder = Encoder()
        for fields in Self.requests.prefix(10) { _ = encoder.block(fields) }
        var context = HPACKContext(fromStart: false)
        #expect(!context.isTableKnown)
        let list = try context.decode(ByteBuffer(bytes: encoder.block(Self.requests[10])))
        #expect(list.unknownEntries > 0)
        #expect(list.fields.contains { $0.name.hasPrefix(":unknown-hpack-entry-") })
        #expect(list.fields.first(":method") == "GET")
        // The name was indexed to an entry from before: placeholder name, exact value.
        #expect(list.fields.contains { $0.name.hasPrefix(":unknown-hpack-entry-") && $0.value == "req-10" })

        let fresh = [(":method", "GET"), ("x-new-header", "fresh-value-1"), ("x-other", "v")]
        _ = try context.decode(ByteBuffer(bytes: encoder.block(fresh)))
        let again = try context.decode(ByteBuffer(bytes: encoder.block(fresh)))
        #expect(again.fields.pairs == [":method: GET", "x-new-header: fresh-value-1", "x-other: v"])
        #expect(again.unknownEntries == 0)
        #expect(context.unknownEntries == list.unknownEntries)
    }

    @Test func aSizeUpdateToZeroMakesTheTableKnown() throws {
        var encoder = Encoder()
        for fields in Self.requests.prefix(5) { _ = encoder.block(fields) }
        var context = HPACKContext(fromStart: false)
        try encoder.encoder.setDynamicTableSize(0)
        try encoder.encoder.setDynamicTableSize(4096)
        let list = try context.decode(ByteBuffer(bytes: encoder.block(Self.requests[5])))
        #expect(context.isTableKnown)
        #expect(list.unknownEntries == 0)
        #expect(list.fields.first("x-request-id") == "req-5")
        for fields in Self.requests[6...] {
            #expect(try context.decode(ByteBuffer(bytes: encoder.block(fields))).fields.pairs == fields.map { "\($0.0): \($0.1)" })
        }
        let unknownIndex: [UInt8] = [0x80 | 0x7F, 0x7F]
        #expect(throws: HPACKError.indexOutOfRange(offset: 0, index: 127 + 127, entries: context.tableEntries)) {
            try context.decode(ByteBuffer(bytes: unknownIndex))
        }
    }

    @Test func knownEntriesFillingTheTableMakeItKnown() throws {
        var context = HPACKContext(fromStart: false)
        var block: [UInt8] = []
        for i in 0..<5 {
            let value = Array(String(repeating: "\(i)", count: 900).utf8)
            block += [0x40, 0x05] + Array("x-big".utf8) + [0x7F, UInt8((value.count - 127) & 0x7F) | 0x80, UInt8((value.count - 127) >> 7)] + value
        }
        #expect(!context.isTableKnown)
        _ = try context.decode(ByteBuffer(bytes: block))
        #expect(context.isTableKnown)
        // The assumed 4,096-byte table is full; while that size is only assumed, every entry is kept.
        #expect(context.tableEntries == 5)
    }

    @Test func aSizeUpdateOverTheAnnouncedLimitIsAnError() {
        var context = HPACKContext(fromStart: true)
        #expect(throws: HPACKError.tableSizeUpdateTooLarge(offset: 0, requested: 8192, limit: 4096)) {
            try context.decode(ByteBuffer(bytes: [0x3F, 0xE1, 0x3F]))
        }
        context.announceTableSize(16384)
        #expect(throws: Never.self) { try context.decode(ByteBuffer(bytes: [0x3F, 0xE1, 0x3F])) }
        #expect(context.maxTableSize == 8192)
        #expect(throws: HPACKError.misplacedTableSizeUpdate(offset: 1)) { try context.decode(ByteBuffer(bytes: [0x82, 0x20])) }
    }

    /// An HPACK bomb: one 4 KiB entry referenced 100,000 times (100 KB of block, 400 MB of
    /// headers) stops at the header list limit, with the table still in step.
    @Test func aHugeHeaderListIsCutOffAtTheLimit() throws {
        var context = HPACKContext(fromStart: true, limits: HTTP2Limits(maxHeaderListSize: 64 << 10))
        let value = Array(repeating: UInt8(ascii: "a"), count: 4000)
        var block: [UInt8] = [0x40, 0x01, 0x62, 0x7F, UInt8((4000 - 127) & 0x7F) | 0x80, UInt8((4000 - 127) >> 7)] + value
        block += Array(repeating: 0xBE, count: 100_000)
        #expect(throws: HPACKError.headerListTooLarge(offset: 4021, size: 4033 * 17, limit: 65536)) { try context.decode(ByteBuffer(bytes: block)) }
        #expect(try context.decode(ByteBuffer(bytes: [0xBE])).fields.first("b")?.count == 4000)
    }

    @Test(arguments: [
        ([0x80] as [UInt8], HPACKError.zeroIndex(offset: 0)),
        ([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], .integerOverflow(offset: 0)),
        ([0x40, 0x85, 0x61], .truncated(offset: 1)),
        ([0x00, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00], .badHuffman(offset: 1)),
        ([0x82, 0xFF], .truncated(offset: 1)),
    ])
    func malformedBlocksAreErrorsThatRestartTheContext(block: [UInt8], error: HPACKError) {
        var context = HPACKContext(fromStart: true)
        #expect(throws: error) { try context.decode(ByteBuffer(bytes: block)) }
        #expect(context.restarts == 1)
        #expect(!context.isTableKnown)
    }
}
