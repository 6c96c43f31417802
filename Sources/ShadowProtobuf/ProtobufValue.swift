/// A decoded protobuf message: its fields in ascending field-number order, each field once.
public struct ProtobufMessage: Sendable, Hashable {
    /// The message type's full name when decoded with a schema (nil without one).
    public var typeName: String?
    public var fields: [ProtobufField]

    public init(typeName: String? = nil, fields: [ProtobufField] = []) {
        self.typeName = typeName
        self.fields = fields
    }

    /// The field with this number, if present.
    public func field(_ number: Int) -> ProtobufField? {
        fields.first { $0.number == number }
    }

    /// The field with this schema name (or `[extension.name]`), if present.
    public func field(named name: String) -> ProtobufField? {
        fields.first { $0.name == name }
    }
}

/// Every occurrence of one field number in a message, merged.
///
/// Without a schema a field is `.single` when it carries one value and `.repeated` otherwise, a
/// packed run counting as its elements, so packed and unpacked encodings give equal fields.
/// With a schema the cardinality is the declared one, and a singular field holds exactly one value
/// (the last scalar seen; messages merged as protobuf merges them).
public struct ProtobufField: Sendable, Hashable {
    public enum Cardinality: Sendable, Hashable {
        case single
        case repeated
        /// Values are `.mapEntry`, one per key, sorted by key.
        case map
    }

    public var number: Int
    /// The schema's field name; `[full.name]` for an extension; nil when unknown.
    public var name: String?
    public var cardinality: Cardinality
    public var values: [ProtobufValue]

    public init(number: Int, name: String? = nil, cardinality: Cardinality, values: [ProtobufValue]) {
        self.number = number
        self.name = name
        self.cardinality = cardinality
        self.values = values
    }
}

/// One decoded value. Schemaless decoding gives `varint`, `fixed32`, `fixed64`, `string`,
/// `bytes` and `message`; schema decoding gives the declared type's case.
public indirect enum ProtobufValue: Sendable, Hashable {
    /// A varint whose type is unknown, as unsigned 64 bits.
    case varint(UInt64)
    /// A 4-byte value whose type is unknown: read as an integer and as a float.
    case fixed32(UInt32)
    /// An 8-byte value whose type is unknown: read as an integer and as a double.
    case fixed64(UInt64)
    /// int32, int64, sint32, sint64, sfixed32 and sfixed64.
    case signed(Int64)
    /// uint32, uint64, fixed32 and fixed64.
    case unsigned(UInt64)
    case float(Float)
    case double(Double)
    case bool(Bool)
    /// Valid UTF-8 (schemaless: printable text only).
    case string(String)
    /// Bytes, and a `string` field whose bytes are not valid UTF-8.
    case bytes([UInt8])
    /// An enum value: its name when the schema knows the number.
    case enumeration(number: Int32, name: String?)
    /// A nested message or group.
    case message(ProtobufMessage)
    /// One entry of a map field.
    case mapEntry(key: ProtobufValue, value: ProtobufValue)
}

extension ProtobufValue {
    /// Floats compare by bit pattern, so every value (a NaN too) equals itself and hashes alike.
    public static func == (lhs: ProtobufValue, rhs: ProtobufValue) -> Bool {
        switch (lhs, rhs) {
        case let (.float(a), .float(b)): a.bitPattern == b.bitPattern
        case let (.double(a), .double(b)): a.bitPattern == b.bitPattern
        case let (.varint(a), .varint(b)), let (.fixed64(a), .fixed64(b)), let (.unsigned(a), .unsigned(b)): a == b
        case let (.fixed32(a), .fixed32(b)): a == b
        case let (.signed(a), .signed(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.bytes(a), .bytes(b)): a == b
        case let (.enumeration(a, aName), .enumeration(b, bName)): a == b && aName == bName
        case let (.message(a), .message(b)): a == b
        case let (.mapEntry(aKey, aValue), .mapEntry(bKey, bValue)): aKey == bKey && aValue == bValue
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .varint(let n): hasher.combine(0); hasher.combine(n)
        case .fixed32(let n): hasher.combine(1); hasher.combine(n)
        case .fixed64(let n): hasher.combine(2); hasher.combine(n)
        case .signed(let n): hasher.combine(3); hasher.combine(n)
        case .unsigned(let n): hasher.combine(4); hasher.combine(n)
        case .float(let f): hasher.combine(5); hasher.combine(f.bitPattern)
        case .double(let d): hasher.combine(6); hasher.combine(d.bitPattern)
        case .bool(let b): hasher.combine(7); hasher.combine(b)
        case .string(let s): hasher.combine(8); hasher.combine(s)
        case .bytes(let bytes): hasher.combine(9); hasher.combine(bytes)
        case .enumeration(let number, let name): hasher.combine(10); hasher.combine(number); hasher.combine(name)
        case .message(let message): hasher.combine(11); hasher.combine(message)
        case .mapEntry(let key, let value): hasher.combine(12); hasher.combine(key); hasher.combine(value)
        }
    }
}
