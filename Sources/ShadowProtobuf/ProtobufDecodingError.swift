/// Why protobuf bytes could not be decoded. Every case names the byte offset (from the start of
/// the input given to the decoder) where the problem was found.
public enum ProtobufDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The input ends inside a varint.
    case truncatedVarint(offset: Int)
    /// A varint runs past 10 bytes (more than 64 bits).
    case overlongVarint(offset: Int)
    /// A tag whose field number is 0 or above 2^29 - 1.
    case invalidFieldNumber(offset: Int, number: UInt64)
    /// A tag with wire type 6 or 7.
    case invalidWireType(offset: Int, wireType: Int)
    /// A fixed32 or fixed64 value cut off by the end of its message.
    case truncatedFixed(offset: Int, width: Int, remaining: Int)
    /// A length prefix larger than the bytes left in its message.
    case lengthBeyondEnd(offset: Int, length: UInt64, remaining: Int)
    /// An end-group tag with no open group of that field number.
    case unexpectedEndGroup(offset: Int, field: Int)
    /// A group still open when its message ends.
    case unterminatedGroup(offset: Int, field: Int)
    /// Messages or groups nested deeper than the decoder's limit.
    case tooDeep(offset: Int, limit: Int)

    /// The byte offset the error names.
    public var offset: Int {
        switch self {
        case .truncatedVarint(let offset), .overlongVarint(let offset), .invalidFieldNumber(let offset, _),
             .invalidWireType(let offset, _), .truncatedFixed(let offset, _, _), .lengthBeyondEnd(let offset, _, _),
             .unexpectedEndGroup(let offset, _), .unterminatedGroup(let offset, _), .tooDeep(let offset, _):
            offset
        }
    }

    public var description: String {
        switch self {
        case .truncatedVarint(let offset): "byte \(offset): input ends inside a varint"
        case .overlongVarint(let offset): "byte \(offset): varint longer than 10 bytes"
        case .invalidFieldNumber(let offset, let number): "byte \(offset): invalid field number \(number)"
        case .invalidWireType(let offset, let wireType): "byte \(offset): invalid wire type \(wireType)"
        case .truncatedFixed(let offset, let width, let remaining):
            "byte \(offset): \(width)-byte fixed value with only \(remaining) bytes left"
        case .lengthBeyondEnd(let offset, let length, let remaining):
            "byte \(offset): length \(length) exceeds the \(remaining) bytes left"
        case .unexpectedEndGroup(let offset, let field): "byte \(offset): end of group \(field) that was not open"
        case .unterminatedGroup(let offset, let field): "byte \(offset): group \(field) is never closed"
        case .tooDeep(let offset, let limit): "byte \(offset): nesting deeper than \(limit) levels"
        }
    }
}
