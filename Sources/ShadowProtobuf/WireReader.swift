/// The six wire types of the protobuf encoding.
public enum WireType: Int, Sendable, Hashable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A field's tag: where it starts, its number and its wire type.
struct WireTag {
    var offset: Int
    var number: Int
    var wireType: WireType
}

/// Reads protobuf wire primitives from `bytes[position..<end]`. Offsets are indices into `bytes`,
/// so errors name positions in the whole input. Never reads outside `position..<end`.
struct WireReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        let range = range ?? 0..<bytes.count
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    static let maxFieldNumber: UInt64 = (1 << 29) - 1

    var isAtEnd: Bool { position >= end }
    var remaining: Int { end - position }

    mutating func varint() throws(ProtobufDecodingError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncatedVarint(offset: start) }
            guard shift < 64 else { throw .overlongVarint(offset: start) }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func tag() throws(ProtobufDecodingError) -> WireTag {
        let start = position
        let raw = try varint()
        let number = raw >> 3
        guard number >= 1, number <= Self.maxFieldNumber else { throw .invalidFieldNumber(offset: start, number: number) }
        guard let wireType = WireType(rawValue: Int(raw & 7)) else { throw .invalidWireType(offset: start, wireType: Int(raw & 7)) }
        return WireTag(offset: start, number: Int(number), wireType: wireType)
    }

    mutating func fixed32() throws(ProtobufDecodingError) -> UInt32 {
        UInt32(truncatingIfNeeded: try fixed(width: 4))
    }

    mutating func fixed64() throws(ProtobufDecodingError) -> UInt64 {
        try fixed(width: 8)
    }

    private mutating func fixed(width: Int) throws(ProtobufDecodingError) -> UInt64 {
        guard remaining >= width else { throw .truncatedFixed(offset: position, width: width, remaining: remaining) }
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += width
        return value
    }

    /// The range of a length-delimited payload (its length prefix read and checked).
    mutating func lengthDelimited() throws(ProtobufDecodingError) -> Range<Int> {
        let start = position
        let length = try varint()
        guard length <= UInt64(remaining) else { throw .lengthBeyondEnd(offset: start, length: length, remaining: remaining) }
        let range = position..<position + Int(length)
        position = range.upperBound
        return range
    }

    /// Skips one value of `wireType` (not a group: groups are read field by field by the caller).
    mutating func skip(_ wireType: WireType) throws(ProtobufDecodingError) {
        switch wireType {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup, .endGroup: break
        }
    }
}

/// Zigzag decoding of sint32 and sint64 values.
enum ZigZag {
    static func decode64(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    static func decode32(_ raw: UInt64) -> Int32 {
        let low = UInt32(truncatingIfNeeded: raw)
        return Int32(bitPattern: (low >> 1) ^ (0 &- (low & 1)))
    }
}
