import NIOCore
import ShadowCore

/// A decoded header block.
public struct HPACKHeaderList: Hashable, Sendable {
    public var fields: [HeaderField]
    /// References to dynamic-table entries from before decoding began, each decoded as a
    /// placeholder named `:unknown-hpack-entry-N` (N the HPACK index).
    public var unknownEntries: Int
}

/// The HPACK decoding state of one direction of a connection (RFC 7541), with NIOHPACK's static
/// table and Huffman code.
///
/// Promises: a context that saw its direction from the start decodes as RFC 7541 says. One that
/// starts mid-connection (or after `restart()`) decodes entries inserted since exactly and stands
/// a counted placeholder for older ones, never failing on them; its table becomes fully known
/// once known entries fill it or a size update empties it. Decoded lists are cut off at
/// `limits.maxHeaderListSize` (an error, with the table kept in step), and a size update above the
/// announced limit is an error. A malformed block makes the context restart, as after a gap.
public struct HPACKContext: Sendable {
    public static let defaultTableSize = 4096

    public let limits: HTTP2Limits
    private var table: HPACKDynamicTable
    private var strings: HPACKStrings
    /// The limit the decoding peer announced in SETTINGS_HEADER_TABLE_SIZE, if seen.
    public private(set) var announcedTableSize: Int?
    /// Placeholders decoded so far (`hpack_unknown_entry`).
    public private(set) var unknownEntries = 0
    /// Times the context restarted after a malformed block or a gap.
    public private(set) var restarts = 0

    /// - Parameter fromStart: whether decoding starts with the connection (the table is empty).
    public init(fromStart: Bool, limits: HTTP2Limits = HTTP2Limits()) {
        self.limits = limits
        table = HPACKDynamicTable(maxSize: Self.defaultTableSize, known: fromStart, hardMaxSize: limits.maxDynamicTableSize)
        strings = HPACKStrings(maxStringBytes: limits.maxHeaderListSize)
    }

    /// Whether every entry of the dynamic table is known.
    public var isTableKnown: Bool { table.isKnown }
    /// Entries held in the dynamic table.
    public var tableEntries: Int { table.count }
    /// The dynamic table's size in RFC 7541 terms (a lower bound where a name was unknown).
    public var tableSize: Int { table.size }
    public var maxTableSize: Int { table.maxSize }

    private var sizeUpdateLimit: Int {
        min(announcedTableSize ?? (table.maxSizeCertain ? Self.defaultTableSize : limits.maxDynamicTableSize), limits.maxDynamicTableSize)
    }

    /// Applies SETTINGS_HEADER_TABLE_SIZE sent by the peer that decodes this direction.
    public mutating func announceTableSize(_ size: Int) {
        let size = min(max(size, 0), limits.maxDynamicTableSize)
        announcedTableSize = size
        table.cap(at: size)
    }

    /// Forgets the dynamic table, after a gap in the direction's bytes.
    public mutating func restart() {
        table.forget(assumedMaxSize: min(announcedTableSize ?? Self.defaultTableSize, limits.maxDynamicTableSize))
        restarts += 1
    }

    /// Decodes one whole header block.
    public mutating func decode(_ block: ByteBuffer) throws(HPACKError) -> HPACKHeaderList {
        var reader = BlockReader(block.readableBytesView)
        var list = HPACKHeaderList(fields: [], unknownEntries: 0)
        var listSize = 0
        var overflow: HPACKError?
        do throws(HPACKError) {
            while !reader.isEmpty {
                let at = reader.offset
                guard let field = try decodeField(&reader, list: &list) else {
                    guard list.fields.isEmpty, overflow == nil, listSize == 0 else { throw HPACKError.misplacedTableSizeUpdate(offset: at) }
                    continue
                }
                listSize += field.name.utf8.count + field.value.utf8.count + HPACKDynamicTable.entryOverhead
                if listSize > limits.maxHeaderListSize {
                    overflow = overflow ?? .headerListTooLarge(offset: at, size: listSize, limit: limits.maxHeaderListSize)
                } else {
                    list.fields.append(field)
                }
            }
        } catch {
            restart()
            throw error
        }
        unknownEntries += list.unknownEntries
        if let overflow { throw overflow }
        return list
    }

    /// One field, or nil for a dynamic table size update.
    private mutating func decodeField(_ reader: inout BlockReader, list: inout HPACKHeaderList) throws(HPACKError) -> HeaderField? {
        let start = reader.offset
        let first = try reader.peek()
        if first & 0x80 != 0 {
            let index = try reader.integer(prefix: 7)
            guard index != 0 else { throw .zeroIndex(offset: start) }
            return try field(at: index, offset: start, list: &list).field
        }
        if first & 0xE0 == 0x20 {
            let size = try reader.integer(prefix: 5)
            guard size <= sizeUpdateLimit else { throw .tableSizeUpdateTooLarge(offset: start, requested: size, limit: sizeUpdateLimit) }
            table.resize(to: size)
            return nil
        }
        let indexing = first & 0xC0 == 0x40
        let nameIndex = try reader.integer(prefix: indexing ? 6 : 4)
        var name: String, nameSize: Int, nameKnown = true
        if nameIndex == 0 {
            (name, nameSize) = try string(&reader)
        } else {
            let entry = try field(at: nameIndex, offset: start, list: &list)
            name = entry.field.name
            nameSize = entry.known ? name.utf8.count : 0
            nameKnown = entry.known
        }
        let (value, valueSize) = try string(&reader)
        let field = HeaderField(name, value)
        if indexing {
            table.insert(field, size: nameSize + valueSize + HPACKDynamicTable.entryOverhead, nameKnown: nameKnown)
        }
        return field
    }

    private mutating func field(at index: Int, offset: Int, list: inout HPACKHeaderList) throws(HPACKError) -> (field: HeaderField, known: Bool) {
        if index <= HPACKStrings.staticTable.count { return (HPACKStrings.staticTable[index - 1], true) }
        switch table.lookup(dynamicIndex: index - HPACKStrings.staticTable.count) {
        case .entry(let entry):
            if !entry.nameKnown { list.unknownEntries += 1 }
            return (entry.field, entry.nameKnown)
        case .unknown:
            list.unknownEntries += 1
            return (HeaderField(":unknown-hpack-entry-\(index)", ""), false)
        case .outOfRange(let entries):
            throw .indexOutOfRange(offset: offset, index: index, entries: entries)
        }
    }

    /// A string literal and its length in octets (RFC 7541 §5.2).
    private mutating func string(_ reader: inout BlockReader) throws(HPACKError) -> (String, Int) {
        let start = reader.offset
        let huffman = try reader.peek() & 0x80 != 0
        let length = try reader.integer(prefix: 7)
        guard length <= limits.maxHeaderListSize else { throw .stringTooLong(offset: start, length: length, limit: limits.maxHeaderListSize) }
        let bytes = try reader.bytes(length, from: start)
        guard huffman else { return (String(decoding: bytes, as: UTF8.self), length) }
        guard let text = strings.huffmanDecode(reader.view(from: start)) else { throw .badHuffman(offset: start) }
        return (text, text.utf8.count)
    }
}

/// Reads HPACK's primitives from a block, never past its end.
struct BlockReader {
    private let bytes: ByteBufferView
    private var index: ByteBufferView.Index

    init(_ bytes: ByteBufferView) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var offset: Int { index - bytes.startIndex }
    var isEmpty: Bool { index >= bytes.endIndex }

    func peek() throws(HPACKError) -> UInt8 {
        guard index < bytes.endIndex else { throw .truncated(offset: offset) }
        return bytes[index]
    }

    /// An integer with an N-bit prefix (RFC 7541 §5.1), at most 2^31 - 1.
    mutating func integer(prefix: Int) throws(HPACKError) -> Int {
        let start = offset
        let mask = (1 << prefix) - 1
        var value = Int(try peek()) & mask
        index += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard index < bytes.endIndex else { throw .truncated(offset: start) }
            let byte = bytes[index]
            index += 1
            value += Int(byte & 0x7F) << shift
            shift += 7
            guard value <= Int(Int32.max), shift <= 35 else { throw .integerOverflow(offset: start) }
            if byte & 0x80 == 0 { return value }
        }
    }

    mutating func bytes(_ count: Int, from start: Int) throws(HPACKError) -> ByteBufferView.SubSequence {
        guard bytes.endIndex - index >= count else { throw .truncated(offset: start) }
        defer { index += count }
        return bytes[index..<index + count]
    }

    /// The bytes from `start` to the current position.
    func view(from start: Int) -> ByteBufferView {
        ByteBufferView(bytes[(bytes.startIndex + start)..<index])
    }
}
