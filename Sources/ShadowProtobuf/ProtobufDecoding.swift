/// The outcome of a lenient decode: what could be read, and why reading stopped early.
public struct ProtobufDecoding: Sendable, Hashable {
    /// The top-level fields read completely before `error` (all of them when `error` is nil).
    public var message: ProtobufMessage
    /// The first error at the top level, if any.
    public var error: ProtobufDecodingError?

    public init(message: ProtobufMessage, error: ProtobufDecodingError?) {
        self.message = message
        self.error = error
    }
}

/// Nesting limit shared by both decoders.
public enum ProtobufLimits {
    /// Messages and groups nested deeper than this are not decoded as such.
    public static let defaultMaxDepth = 64
}

/// Collects field values by number and builds the message with fields in number order. A declared
/// field (named) and values of the same number that did not fit its declaration stay apart.
struct FieldCollector {
    private struct Key: Hashable {
        var number: Int
        var isDeclared: Bool
    }

    private var order: [Key: Int] = [:]
    private(set) var fields: [ProtobufField] = []

    mutating func append(_ values: [ProtobufValue], number: Int, name: String? = nil, cardinality: ProtobufField.Cardinality) {
        let key = Key(number: number, isDeclared: name != nil)
        if let index = order[key] {
            fields[index].values += values
        } else {
            order[key] = fields.count
            fields.append(ProtobufField(number: number, name: name, cardinality: cardinality, values: values))
        }
    }

    func message(typeName: String?, finish: (ProtobufField) -> ProtobufField) -> ProtobufMessage {
        ProtobufMessage(typeName: typeName, fields: fields.map(finish).sorted { ($0.number, $0.name == nil ? 1 : 0) < ($1.number, $1.name == nil ? 1 : 0) })
    }
}
