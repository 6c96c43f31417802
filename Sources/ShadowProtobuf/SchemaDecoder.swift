/// Decodes protobuf bytes as one message type of a `ProtobufSchema`, for proto2 and proto3.
///
/// Fields get their schema names (extensions `[full.name]`) and declared types: enums by name
/// when the number is known, 64-bit integers exact, repeated fields packed or not, map fields as
/// entries sorted by key (the last entry of a key wins). A singular field seen more than once keeps
/// its last scalar, or the merge of its messages. Fields the schema does not declare, or that arrive
/// with another wire type, are kept by number as `SchemalessDecoder` reads them. Absent fields stay
/// absent: proto2 defaults are not filled in. A `string` that is not valid UTF-8 is kept as bytes.
public struct SchemaDecoder: Sendable {
    public let schema: ProtobufSchema
    /// The full name of the message type decoded.
    public let typeName: String
    public let maxDepth: Int

    /// The whole input as one message, or the first error (nested ones included).
    public func decode(_ bytes: [UInt8]) throws(ProtobufDecodingError) -> ProtobufMessage {
        let decoding = decodeLeniently(bytes)
        if let error = decoding.error { throw error }
        return decoding.message
    }

    /// The top-level fields that decoded completely, and the first error met.
    public func decodeLeniently(_ bytes: [UInt8]) -> ProtobufDecoding {
        var pass = MessagePass(decoder: self, bytes: bytes, type: schema.messages[typeName]!, depth: 0)
        let failure = pass.read(0..<bytes.count)
        var firstError = failure
        let message = pass.finish { error in firstError = firstError ?? error }
        return ProtobufDecoding(message: message, error: firstError)
    }

    var schemaless: SchemalessDecoder { SchemalessDecoder(maxDepth: maxDepth) }

    /// A nested message of `type` read from the concatenation of `ranges` (a merge, as protobuf defines it).
    func message(_ bytes: [UInt8], _ ranges: [Range<Int>], type: MessageSchema, depth: Int) throws(ProtobufDecodingError) -> ProtobufMessage {
        guard depth <= maxDepth else { throw .tooDeep(offset: ranges.first?.lowerBound ?? 0, limit: maxDepth) }
        var pass = MessagePass(decoder: self, bytes: bytes, type: type, depth: depth)
        for range in ranges {
            if let error = pass.read(range) { throw error }
        }
        var failure: ProtobufDecodingError?
        let message = pass.finish { error in failure = failure ?? error }
        if let failure { throw failure }
        return message
    }
}

/// One message being decoded: fields collected from one or more byte ranges.
private struct MessagePass {
    let decoder: SchemaDecoder
    let bytes: [UInt8]
    let type: MessageSchema
    let depth: Int
    var collector = FieldCollector()
    /// Singular message and group fields, decoded at the end from all their occurrences.
    var merged: [Int: (field: FieldSchema, type: MessageSchema, ranges: [Range<Int>])] = [:]

    init(decoder: SchemaDecoder, bytes: [UInt8], type: MessageSchema, depth: Int) {
        self.decoder = decoder
        self.bytes = bytes
        self.type = type
        self.depth = depth
    }

    /// Reads the fields in `range`; returns the error that stopped it, if any.
    mutating func read(_ range: Range<Int>) -> ProtobufDecodingError? {
        var reader = WireReader(bytes, range: range)
        do {
            while !reader.isAtEnd {
                let tag = try reader.tag()
                try field(tag, reader: &reader)
            }
        } catch {
            return error
        }
        return nil
    }

    private var schema: ProtobufSchema { decoder.schema }

    private mutating func field(_ tag: WireTag, reader: inout WireReader) throws(ProtobufDecodingError) {
        guard let field = type.fields[tag.number] ?? schema.extensions[type.fullName]?[tag.number],
              let values = try known(field, tag, reader: &reader)
        else {
            let values = try decoder.schemaless.fieldValues(tag, reader: &reader, depth: depth)
            collector.append(values, number: tag.number, cardinality: .single)
            return
        }
        if values.isEmpty { return }
        let cardinality: ProtobufField.Cardinality
        if case .mapEntry = values.first { cardinality = .map } else { cardinality = field.isRepeated ? .repeated : .single }
        collector.append(values, number: field.number, name: field.name, cardinality: cardinality)
    }

    /// The values of a declared field, or nil (nothing read) when its wire type does not fit.
    private mutating func known(_ field: FieldSchema, _ tag: WireTag, reader: inout WireReader) throws(ProtobufDecodingError) -> [ProtobufValue]? {
        switch (field.kind, tag.wireType) {
        case (.message(let name), .lengthDelimited):
            guard let nested = schema.messages[name] else { return nil }
            let range = try reader.lengthDelimited()
            return try nestedMessage(field, nested, range)
        case (.group(let name), .startGroup):
            guard let nested = schema.messages[name] else { return nil }
            let range = try groupContent(tag, reader: &reader)
            return try nestedMessage(field, nested, range)
        case (.string, .lengthDelimited):
            let range = try reader.lengthDelimited()
            return [String(validating: bytes[range], as: UTF8.self).map(ProtobufValue.string) ?? .bytes(Array(bytes[range]))]
        case (.bytes, .lengthDelimited):
            return [.bytes(Array(bytes[try reader.lengthDelimited()]))]
        case (_, .lengthDelimited) where field.isRepeated && field.kind.elementWireType != nil:
            var packed = WireReader(bytes, range: try reader.lengthDelimited())
            var values: [ProtobufValue] = []
            while !packed.isAtEnd { values.append(try scalar(field.kind, wireType: field.kind.elementWireType!, reader: &packed)) }
            return values
        case (_, let wireType) where wireType == field.kind.elementWireType:
            return [try scalar(field.kind, wireType: wireType, reader: &reader)]
        default:
            return nil
        }
    }

    private mutating func nestedMessage(_ field: FieldSchema, _ nested: MessageSchema, _ range: Range<Int>) throws(ProtobufDecodingError) -> [ProtobufValue]? {
        guard depth + 1 <= decoder.maxDepth else { throw .tooDeep(offset: range.lowerBound, limit: decoder.maxDepth) }
        guard field.isRepeated else {
            merged[field.number, default: (field, nested, [])].ranges.append(range)
            return []
        }
        let message = try decoder.message(bytes, [range], type: nested, depth: depth + 1)
        return [nested.isMapEntry ? mapEntry(message, nested) : .message(message)]
    }

    /// The bytes between a start-group tag (just read) and its matching end tag, which is consumed.
    private func groupContent(_ start: WireTag, reader: inout WireReader) throws(ProtobufDecodingError) -> Range<Int> {
        let contentStart = reader.position
        var open = [start.number]
        while !reader.isAtEnd {
            let before = reader.position
            let tag = try reader.tag()
            switch tag.wireType {
            case .startGroup:
                guard depth + open.count + 1 <= decoder.maxDepth else { throw .tooDeep(offset: tag.offset, limit: decoder.maxDepth) }
                open.append(tag.number)
            case .endGroup:
                guard open.last == tag.number else { throw .unexpectedEndGroup(offset: tag.offset, field: tag.number) }
                open.removeLast()
                if open.isEmpty { return contentStart..<before }
            default: try reader.skip(tag.wireType)
            }
        }
        throw .unterminatedGroup(offset: start.offset, field: start.number)
    }

    private func scalar(_ kind: FieldSchema.Kind, wireType: WireType, reader: inout WireReader) throws(ProtobufDecodingError) -> ProtobufValue {
        switch wireType {
        case .fixed64:
            let raw = try reader.fixed64()
            switch kind {
            case .double: return .double(Double(bitPattern: raw))
            case .sfixed64: return .signed(Int64(bitPattern: raw))
            default: return .unsigned(raw)
            }
        case .fixed32:
            let raw = try reader.fixed32()
            switch kind {
            case .float: return .float(Float(bitPattern: raw))
            case .sfixed32: return .signed(Int64(Int32(bitPattern: raw)))
            default: return .unsigned(UInt64(raw))
            }
        default:
            let raw = try reader.varint()
            switch kind {
            case .int32: return .signed(Int64(Int32(truncatingIfNeeded: raw)))
            case .int64: return .signed(Int64(bitPattern: raw))
            case .uint32: return .unsigned(UInt64(UInt32(truncatingIfNeeded: raw)))
            case .sint32: return .signed(Int64(ZigZag.decode32(raw)))
            case .sint64: return .signed(ZigZag.decode64(raw))
            case .bool: return .bool(raw != 0)
            case .enumeration(let name): return enumValue(Int32(truncatingIfNeeded: raw), type: name)
            default: return .unsigned(raw)
            }
        }
    }

    private func enumValue(_ number: Int32, type: String) -> ProtobufValue {
        .enumeration(number: number, name: schema.enums[type]?[number])
    }

    private func mapEntry(_ entry: ProtobufMessage, _ type: MessageSchema) -> ProtobufValue {
        func part(_ number: Int) -> ProtobufValue {
            if let value = entry.field(number)?.values.last { return value }
            return type.fields[number].map(defaultValue) ?? .unsigned(0)
        }
        return .mapEntry(key: part(1), value: part(2))
    }

    private func defaultValue(_ field: FieldSchema) -> ProtobufValue {
        switch field.kind {
        case .double: .double(0)
        case .float: .float(0)
        case .int64, .int32, .sfixed32, .sfixed64, .sint32, .sint64: .signed(0)
        case .uint64, .uint32, .fixed64, .fixed32: .unsigned(0)
        case .bool: .bool(false)
        case .string: .string("")
        case .bytes: .bytes([])
        case .enumeration(let name): enumValue(0, type: name)
        case .message(let name), .group(let name): .message(ProtobufMessage(typeName: name))
        }
    }

    /// The message: merged singular messages decoded, singular scalars reduced to their last
    /// value, map entries one per key. Errors of merged messages go to `failed`; their fields are left out.
    mutating func finish(_ failed: (ProtobufDecodingError) -> Void) -> ProtobufMessage {
        for (number, entry) in merged.sorted(by: { $0.key < $1.key }) {
            do {
                let message = try decoder.message(bytes, entry.ranges, type: entry.type, depth: depth + 1)
                collector.append([.message(message)], number: number, name: entry.field.name, cardinality: .single)
            } catch {
                failed(error)
            }
        }
        return collector.message(typeName: type.fullName) { field in
            var field = field
            if field.name == nil {
                field.cardinality = field.values.count == 1 ? .single : .repeated
            } else if field.cardinality == .single, let last = field.values.last {
                field.values = [last]
            } else if field.cardinality == .map {
                field.values = MapKeys.unique(field.values)
            }
            return field
        }
    }
}

extension FieldSchema.Kind {
    /// The wire type of one element of this scalar kind; nil for strings, bytes, messages and groups.
    var elementWireType: WireType? {
        switch self {
        case .double, .fixed64, .sfixed64: .fixed64
        case .float, .fixed32, .sfixed32: .fixed32
        case .int64, .uint64, .int32, .bool, .uint32, .sint32, .sint64, .enumeration: .varint
        case .string, .bytes, .message, .group: nil
        }
    }
}
