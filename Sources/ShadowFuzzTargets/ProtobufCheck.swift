import ShadowCore
import ShadowProtobuf

/// Decodes a message without a schema and, when the input carries one, with a descriptor set.
///
/// Input: a flags byte; when bit 0 is set, a type-name length byte, the type name, a 3-byte
/// big-endian descriptor length and that many bytes of FileDescriptorSet; then the message.
/// Checks, for each decoder: the strict and lenient decodes agree, an error's offset lies within
/// the input, decoding twice gives the same message, and its tree equals itself.
enum ProtobufCheck {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let flags = input.byte()
        var decoder: SchemaDecoder?
        if flags & 1 == 1 {
            let name = String(decoding: input.slice(Int(input.byte())), as: UTF8.self)
            let descriptor = [UInt8](input.slice(Int(input.number(bytes: 3))))
            if let schema = try? ProtobufSchema(descriptorSet: descriptor) {
                decoder = schema.decoder(for: name) ?? schema.messageTypeNames.first.flatMap { schema.decoder(for: $0) }
            }
        }
        let message = [UInt8](input.rest())
        let schemaless = SchemalessDecoder()
        check(message, strict: schemaless.decode, lenient: schemaless.decodeLeniently)
        if let decoder {
            check(message, strict: decoder.decode, lenient: decoder.decodeLeniently)
        }
    }

    private static func check(
        _ bytes: [UInt8],
        strict: ([UInt8]) throws(ProtobufDecodingError) -> ProtobufMessage,
        lenient: ([UInt8]) -> ProtobufDecoding
    ) {
        let first = lenient(bytes)
        precondition(first == lenient(bytes), "decoding the same bytes twice differs")
        let strictResult = Result { () throws(ProtobufDecodingError) in try strict(bytes) }
        if let error = first.error {
            precondition((0...bytes.count).contains(error.offset), "error offset outside the input: \(error)")
            precondition(strictResult == .failure(error), "strict and lenient decoding disagree on the error")
        } else {
            precondition(strictResult == .success(first.message), "strict and lenient decoding disagree on the message")
        }
        let tree = first.message.tree
        precondition(tree == tree, "a decoded tree differs from itself")
        _ = ProtobufText.render(first.message)
    }
}
