import NIOCore
import ShadowCore
import NIOHPACK

/// NIOHPACK's static table and Huffman decoding, reached through its public decoder.
///
/// NIOHPACK keeps its Huffman decoder and static table internal; a field "literal without
/// indexing" decoded by a fresh `HPACKDecoder` touches no dynamic table, so it decodes any string
/// and any static entry without state.
struct HPACKStrings: Sendable {
    /// Entries 1...61 of RFC 7541 Appendix A, as NIOHPACK decodes them.
    static let staticTable: [HeaderField] = {
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 0)
        return (1...61).map { index in
            var block = ByteBufferAllocator().buffer(bytes: [0x80 | UInt8(index)])
            let headers = (try? decoder.decodeHeaders(from: &block)) ?? HPACKHeaders()
            for (name, value, _) in headers { return HeaderField(name, value) }
            return HeaderField(":static-\(index)", "")
        }
    }()

    private var decoder: HPACKDecoder

    init(maxStringBytes: Int) {
        decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 0, maxHeaderListSize: max(1, maxStringBytes) + 64)
    }

    /// Decodes a Huffman-coded string given as it appears in a block (length prefix included).
    mutating func huffmanDecode(_ encoded: ByteBufferView) -> String? {
        var block = ByteBufferAllocator().buffer(capacity: encoded.count + 3)
        block.writeBytes([0x00, 0x01, 0x78])
        block.writeBytes(encoded)
        guard let headers = try? decoder.decodeHeaders(from: &block) else { return nil }
        for (_, value, _) in headers { return value }
        return nil
    }
}
