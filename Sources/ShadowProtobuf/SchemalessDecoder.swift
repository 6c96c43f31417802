/// Decodes protobuf bytes without a schema, as `protoc --decode_raw` does, but with values made
/// comparable: fields keyed by number in number order, repeats (packed or not) merged into one list.
///
/// A length-delimited value is read as the first of these that fits: a nested message (when the
/// bytes parse completely as at least one field and the depth limit allows), printable UTF-8 text,
/// packed varints (every varint minimally encoded), raw bytes. Empty values are empty strings.
/// Groups are decoded as nested messages.
public struct SchemalessDecoder: Sendable {
    public let maxDepth: Int

    public init(maxDepth: Int = ProtobufLimits.defaultMaxDepth) {
        self.maxDepth = maxDepth
    }

    /// The whole input as one message, or the first framing error.
    public func decode(_ bytes: [UInt8]) throws(ProtobufDecodingError) -> ProtobufMessage {
        let decoding = decodeLeniently(bytes)
        if let error = decoding.error { throw error }
        return decoding.message
    }

    /// The top-level fields up to the first framing error, and that error.
    public func decodeLeniently(_ bytes: [UInt8]) -> ProtobufDecoding {
        var reader = WireReader(bytes)
        var collector = FieldCollector()
        var failure: ProtobufDecodingError?
        while !reader.isAtEnd {
            do {
                let tag = try reader.tag()
                let values = try fieldValues(tag, reader: &reader, depth: 0)
                collector.append(values, number: tag.number, cardinality: .single)
            } catch {
                failure = error
                break
            }
        }
        return ProtobufDecoding(message: Self.message(collector), error: failure)
    }

    /// The values of one field whose tag was just read (a packed run gives several).
    func fieldValues(_ tag: WireTag, reader: inout WireReader, depth: Int) throws(ProtobufDecodingError) -> [ProtobufValue] {
        switch tag.wireType {
        case .varint: return [.varint(try reader.varint())]
        case .fixed64: return [.fixed64(try reader.fixed64())]
        case .fixed32: return [.fixed32(try reader.fixed32())]
        case .lengthDelimited: return interpret(reader.bytes, try reader.lengthDelimited(), depth: depth)
        case .startGroup: return [.message(try group(tag, reader: &reader, depth: depth + 1))]
        case .endGroup: throw .unexpectedEndGroup(offset: tag.offset, field: tag.number)
        }
    }

    private func message(_ bytes: [UInt8], _ range: Range<Int>, depth: Int) throws(ProtobufDecodingError) -> ProtobufMessage {
        var reader = WireReader(bytes, range: range)
        var collector = FieldCollector()
        while !reader.isAtEnd {
            let tag = try reader.tag()
            collector.append(try fieldValues(tag, reader: &reader, depth: depth), number: tag.number, cardinality: .single)
        }
        return Self.message(collector)
    }

    private func group(_ start: WireTag, reader: inout WireReader, depth: Int) throws(ProtobufDecodingError) -> ProtobufMessage {
        guard depth <= maxDepth else { throw .tooDeep(offset: start.offset, limit: maxDepth) }
        var collector = FieldCollector()
        while !reader.isAtEnd {
            let tag = try reader.tag()
            if tag.wireType == .endGroup {
                guard tag.number == start.number else { throw .unexpectedEndGroup(offset: tag.offset, field: tag.number) }
                return Self.message(collector)
            }
            collector.append(try fieldValues(tag, reader: &reader, depth: depth), number: tag.number, cardinality: .single)
        }
        throw .unterminatedGroup(offset: start.offset, field: start.number)
    }

    private func interpret(_ bytes: [UInt8], _ range: Range<Int>, depth: Int) -> [ProtobufValue] {
        if range.isEmpty { return [.string("")] }
        if depth + 1 <= maxDepth, Self.isMessage(bytes, range, depth: depth + 1, maxDepth: maxDepth),
           let nested = try? message(bytes, range, depth: depth + 1) {
            return [.message(nested)]
        }
        if let text = Self.printableText(bytes[range]) { return [.string(text)] }
        if let numbers = Self.packedVarints(bytes, range) { return numbers.map(ProtobufValue.varint) }
        return [.bytes(Array(bytes[range]))]
    }

    /// Whether `range` parses as one or more fields with balanced groups, without decoding them.
    static func isMessage(_ bytes: [UInt8], _ range: Range<Int>, depth: Int, maxDepth: Int) -> Bool {
        var reader = WireReader(bytes, range: range)
        var open: [Int] = []
        do {
            while !reader.isAtEnd {
                let tag = try reader.tag()
                switch tag.wireType {
                case .startGroup:
                    guard depth + open.count + 1 <= maxDepth else { return false }
                    open.append(tag.number)
                case .endGroup:
                    guard open.last == tag.number else { return false }
                    open.removeLast()
                default: try reader.skip(tag.wireType)
                }
            }
        } catch {
            return false
        }
        return open.isEmpty
    }

    static func printableText(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let printable = text.unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0x09, 0x0A, 0x0D: true
            case 0..<0x20, 0x7F..<0xA0: false
            default: true
            }
        }
        return printable ? text : nil
    }

    static func packedVarints(_ bytes: [UInt8], _ range: Range<Int>) -> [UInt64]? {
        var reader = WireReader(bytes, range: range)
        var numbers: [UInt64] = []
        while !reader.isAtEnd {
            let start = reader.position
            guard let number = try? reader.varint() else { return nil }
            let length = reader.position - start
            if length > 1, bytes[reader.position - 1] == 0 { return nil }
            numbers.append(number)
        }
        return numbers
    }

    private static func message(_ collector: FieldCollector) -> ProtobufMessage {
        collector.message(typeName: nil) { field in
            var field = field
            field.cardinality = field.values.count == 1 ? .single : .repeated
            return field
        }
    }
}
