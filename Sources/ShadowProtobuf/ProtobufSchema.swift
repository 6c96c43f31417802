import SwiftProtobuf

/// Why a descriptor set could not be loaded.
public enum ProtobufSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not a serialized `google.protobuf.FileDescriptorSet`.
    case invalidDescriptorSet(reason: String)

    public var description: String {
        switch self {
        case .invalidDescriptorSet(let reason): "not a FileDescriptorSet: \(reason)"
        }
    }
}

/// The message and enum types of a FileDescriptorSet (what `protoc --descriptor_set_out=FILE
/// --include_imports` writes), indexed for decoding. Type names are full names without the
/// leading dot (`com.iabtechlab.openrtb.v2.BidResponse`). A field whose type the set does not
/// define decodes as an unknown field.
public struct ProtobufSchema: Sendable {
    let messages: [String: MessageSchema]
    let enums: [String: [Int32: String]]
    /// Extensions by extended type, then by field number.
    let extensions: [String: [Int: FieldSchema]]

    /// Loads a serialized FileDescriptorSet.
    public init(descriptorSet bytes: [UInt8]) throws(ProtobufSchemaError) {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes, partial: true)
        } catch {
            throw .invalidDescriptorSet(reason: String(describing: error))
        }
        self.init(set)
    }

    /// Indexes a FileDescriptorSet already decoded.
    public init(_ set: Google_Protobuf_FileDescriptorSet) {
        var index = SchemaIndex()
        for file in set.file {
            let scope = file.package
            for message in file.messageType { index.add(message, scope: scope) }
            for enumType in file.enumType { index.add(enumType, scope: scope) }
            for field in file.extension { index.addExtension(field, scope: scope) }
        }
        messages = index.messages
        enums = index.enums
        extensions = index.extensions
    }

    /// Every message type's full name, sorted.
    public var messageTypeNames: [String] { messages.keys.sorted() }

    /// Every enum type's full name, sorted.
    public var enumTypeNames: [String] { enums.keys.sorted() }

    /// A decoder for the message type with this full name (a leading dot is accepted), or nil.
    public func decoder(for typeName: String, maxDepth: Int = ProtobufLimits.defaultMaxDepth) -> SchemaDecoder? {
        let name = typeName.hasPrefix(".") ? String(typeName.dropFirst()) : typeName
        guard messages[name] != nil else { return nil }
        return SchemaDecoder(schema: self, typeName: name, maxDepth: maxDepth)
    }
}

/// A message type: its fields by number.
struct MessageSchema: Sendable {
    var fullName: String
    var fields: [Int: FieldSchema]
    var isMapEntry: Bool
}

/// A field as the decoder needs it.
struct FieldSchema: Sendable {
    enum Kind: Sendable, Hashable {
        case double, float, int64, uint64, int32, fixed64, fixed32, bool, string, bytes, uint32
        case sfixed32, sfixed64, sint32, sint64
        case enumeration(String)
        case message(String)
        case group(String)
    }

    var name: String
    var number: Int
    var kind: Kind
    var isRepeated: Bool
}

/// Builds the schema's tables from descriptor protos.
private struct SchemaIndex {
    var messages: [String: MessageSchema] = [:]
    var enums: [String: [Int32: String]] = [:]
    var extensions: [String: [Int: FieldSchema]] = [:]

    static func join(_ scope: String, _ name: String) -> String {
        scope.isEmpty ? name : scope + "." + name
    }

    mutating func add(_ message: Google_Protobuf_DescriptorProto, scope: String) {
        let fullName = Self.join(scope, message.name)
        var fields: [Int: FieldSchema] = [:]
        for field in message.field {
            if let schema = Self.field(field, displayName: nil) { fields[schema.number] = schema }
        }
        messages[fullName] = MessageSchema(fullName: fullName, fields: fields, isMapEntry: message.options.mapEntry)
        for nested in message.nestedType { add(nested, scope: fullName) }
        for enumType in message.enumType { add(enumType, scope: fullName) }
        for field in message.extension { addExtension(field, scope: fullName) }
    }

    mutating func add(_ enumType: Google_Protobuf_EnumDescriptorProto, scope: String) {
        var names: [Int32: String] = [:]
        for value in enumType.value where names[value.number] == nil { names[value.number] = value.name }
        enums[Self.join(scope, enumType.name)] = names
    }

    mutating func addExtension(_ field: Google_Protobuf_FieldDescriptorProto, scope: String) {
        let extendee = Self.typeName(field.extendee)
        guard let schema = Self.field(field, displayName: "[" + Self.join(scope, field.name) + "]") else { return }
        extensions[extendee, default: [:]][schema.number] = schema
    }

    static func typeName(_ name: String) -> String {
        name.hasPrefix(".") ? String(name.dropFirst()) : name
    }

    static func field(_ field: Google_Protobuf_FieldDescriptorProto, displayName: String?) -> FieldSchema? {
        guard field.number >= 1, UInt64(field.number) <= WireReader.maxFieldNumber else { return nil }
        let type = typeName(field.typeName)
        let kind: FieldSchema.Kind
        switch field.type {
        case .double: kind = .double
        case .float: kind = .float
        case .int64: kind = .int64
        case .uint64: kind = .uint64
        case .int32: kind = .int32
        case .fixed64: kind = .fixed64
        case .fixed32: kind = .fixed32
        case .bool: kind = .bool
        case .string: kind = .string
        case .bytes: kind = .bytes
        case .uint32: kind = .uint32
        case .sfixed32: kind = .sfixed32
        case .sfixed64: kind = .sfixed64
        case .sint32: kind = .sint32
        case .sint64: kind = .sint64
        case .enum: kind = .enumeration(type)
        case .message: kind = .message(type)
        case .group: kind = .group(type)
        }
        // protoc's text format names a group field after its type.
        let groupName = field.type == .group ? type.split(separator: ".").last.map(String.init) : nil
        return FieldSchema(
            name: displayName ?? groupName ?? field.name, number: Int(field.number), kind: kind,
            isRepeated: field.label == .repeated
        )
    }
}
