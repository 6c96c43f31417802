/// A decoded message as a JSON-shaped tree, for the JSON differ: the same shape as ShadowDiff's
/// `JSONValue` (objects with ordered members, arrays, strings, numbers, booleans) but with numbers
/// that keep 64-bit integers exact.
///
/// Mapping from a `ProtobufMessage`:
/// - a message is an object, its fields in number order, keyed by schema name, `[extension.name]`,
///   or the decimal field number when unknown (schemaless: always the number, e.g. `"3"`);
/// - a repeated field is an array (schemaless: a field with more than one value), a map field an
///   object keyed by the map key's text (`"7"`, `"true"`, the string itself), a singular field its value;
/// - integers are `.number(.int/.uint)`, floats and doubles `.number(.double)` (a float through its
///   shortest decimal form, so 1.1f is 1.1), NaN and infinities the strings `"NaN"`, `"Infinity"`,
///   `"-Infinity"`, as proto3's JSON mapping writes them;
/// - bytes (and undecodable text) are base64 strings; enums their name, or number when unknown;
/// - an unknown-typed fixed64 is `{"fixed64": UInt64, "double": Double}`, a fixed32
///   `{"fixed32": UInt32, "float": Double}`.
///
/// To `JSONValue`: object, array, string and bool map one to one; `.number(n)` maps to
/// `.number(n.doubleValue)` when `n.isExactAsDouble`, else to `.string(n.decimalText)` (as proto3's
/// JSON mapping writes 64-bit integers).
public indirect enum ProtobufTree: Sendable, Hashable {
    case bool(Bool)
    case number(ProtobufNumber)
    case string(String)
    case array([ProtobufTree])
    case object([Member])

    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: ProtobufTree

        public init(key: String, value: ProtobufTree) {
            self.key = key
            self.value = value
        }
    }

    /// The value of an object's member.
    public subscript(key: String) -> ProtobufTree? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// An array's element.
    public subscript(index: Int) -> ProtobufTree? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }
}

/// A number in a `ProtobufTree`: integers exact, floating point as decoded.
public enum ProtobufNumber: Sendable, Hashable {
    case int(Int64)
    case uint(UInt64)
    /// Always finite.
    case double(Double)

    public var doubleValue: Double {
        switch self {
        case .int(let n): Double(n)
        case .uint(let n): Double(n)
        case .double(let d): d
        }
    }

    /// Whether `doubleValue` is exactly this number (integers of at most 2^53 in magnitude).
    public var isExactAsDouble: Bool {
        switch self {
        case .int(let n): n.magnitude <= 1 << 53
        case .uint(let n): n <= 1 << 53
        case .double: true
        }
    }

    /// Exact decimal text: integers in full, floating point in shortest round-trip form.
    public var decimalText: String {
        switch self {
        case .int(let n): String(n)
        case .uint(let n): String(n)
        case .double(let d): NumberText.double(d)
        }
    }
}

extension ProtobufMessage {
    /// This message as a JSON-shaped tree (see `ProtobufTree` for the mapping).
    public var tree: ProtobufTree {
        .object(fields.map { ProtobufTree.Member(key: $0.name ?? String($0.number), value: $0.tree) })
    }
}

extension ProtobufField {
    var tree: ProtobufTree {
        switch cardinality {
        case .single where values.count == 1: return values[0].tree
        case .map:
            return .object(values.compactMap { value in
                guard case .mapEntry(let key, let entry) = value else { return nil }
                return ProtobufTree.Member(key: key.mapKeyText, value: entry.tree)
            })
        default: return .array(values.map(\.tree))
        }
    }
}

extension ProtobufValue {
    /// This value as a JSON-shaped tree (see `ProtobufTree` for the mapping).
    public var tree: ProtobufTree {
        switch self {
        case .varint(let n): .number(.uint(n))
        case .fixed32(let bits):
            .object([.init(key: "fixed32", value: .number(.uint(UInt64(bits)))), .init(key: "float", value: Self.floating(Double(Float(bitPattern: bits)), float: true))])
        case .fixed64(let bits):
            .object([.init(key: "fixed64", value: .number(.uint(bits))), .init(key: "double", value: Self.floating(Double(bitPattern: bits), float: false))])
        case .signed(let n): .number(.int(n))
        case .unsigned(let n): .number(.uint(n))
        case .float(let f): Self.floating(Double(f), float: true)
        case .double(let d): Self.floating(d, float: false)
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .bytes(let bytes): .string(Base64.encode(bytes))
        case .enumeration(let number, let name): name.map(ProtobufTree.string) ?? .number(.int(Int64(number)))
        case .message(let message): message.tree
        case .mapEntry(let key, let value):
            .object([.init(key: "key", value: key.tree), .init(key: "value", value: value.tree)])
        }
    }

    /// A map key as an object key.
    var mapKeyText: String {
        switch self {
        case .signed(let n): String(n)
        case .unsigned(let n), .varint(let n): String(n)
        case .bool(let b): b ? "true" : "false"
        case .string(let s): s
        case .bytes(let bytes): Base64.encode(bytes)
        default: ProtobufText.render(self)
        }
    }

    private static func floating(_ value: Double, float: Bool) -> ProtobufTree {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        guard float else { return .number(.double(value)) }
        return .number(.double(Double(Float(value).description) ?? value))
    }
}
