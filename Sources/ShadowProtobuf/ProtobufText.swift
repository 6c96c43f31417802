/// Readable text of a decoded message, in the layout of `protoc --decode`: one field per line,
/// nested messages in indented `name { ... }` blocks, map entries as `key`/`value` blocks, names
/// where known and field numbers otherwise. For a message decoded with a schema the text equals
/// protoc's for the same bytes, but for floating point, written here in shortest round-trip form.
/// Schemaless fixed-width values show both readings: `3: 4608308318706860032 # double 1.25`.
public enum ProtobufText {
    public static func render(_ message: ProtobufMessage) -> String {
        var out = ""
        write(message, indent: "", into: &out)
        return out
    }

    /// One value on one line (messages in the short `{ a: 1 b: 2 }` form).
    public static func render(_ value: ProtobufValue) -> String {
        switch value {
        case .message(let message):
            var out = ""
            write(message, indent: "", into: &out)
            let inner = out.split(separator: "\n").map { $0.drop { $0 == " " } }.joined(separator: " ")
            return inner.isEmpty ? "{}" : "{ " + inner + " }"
        case .mapEntry(let key, let value): return "{ key: \(render(key)) value: \(render(value)) }"
        default: return scalar(value)
        }
    }

    private static func write(_ message: ProtobufMessage, indent: String, into out: inout String) {
        for field in message.fields {
            let key = field.name ?? String(field.number)
            for value in field.values { write(value, key: key, indent: indent, into: &out) }
        }
    }

    private static func write(_ value: ProtobufValue, key: String, indent: String, into out: inout String) {
        switch value {
        case .message(let message):
            out += indent + key + " {\n"
            write(message, indent: indent + "  ", into: &out)
            out += indent + "}\n"
        case .mapEntry(let entryKey, let entryValue):
            out += indent + key + " {\n"
            write(entryKey, key: "key", indent: indent + "  ", into: &out)
            write(entryValue, key: "value", indent: indent + "  ", into: &out)
            out += indent + "}\n"
        case .fixed32(let bits):
            out += indent + key + ": " + String(bits) + " # float " + NumberText.float(Float(bitPattern: bits)) + "\n"
        case .fixed64(let bits):
            out += indent + key + ": " + String(bits) + " # double " + NumberText.double(Double(bitPattern: bits)) + "\n"
        default:
            out += indent + key + ": " + scalar(value) + "\n"
        }
    }

    private static func scalar(_ value: ProtobufValue) -> String {
        switch value {
        case .varint(let n), .unsigned(let n): String(n)
        case .fixed32(let bits): String(bits)
        case .fixed64(let bits): String(bits)
        case .signed(let n): String(n)
        case .float(let f): NumberText.float(f)
        case .double(let d): NumberText.double(d)
        case .bool(let b): b ? "true" : "false"
        case .string(let s): quoted(Array(s.utf8))
        case .bytes(let bytes): quoted(bytes)
        case .enumeration(let number, let name): name ?? String(number)
        case .message, .mapEntry: render(value)
        }
    }

    /// A C-escaped quoted string, as protoc escapes text: bytes outside printable ASCII in octal.
    static func quoted(_ bytes: [UInt8]) -> String {
        var out = "\""
        for byte in bytes {
            switch byte {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x22: out += "\\\""
            case 0x27: out += "\\'"
            case 0x5C: out += "\\\\"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let octal = String(byte, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return out + "\""
    }
}

/// Floating point as text: shortest round-trip digits, no trailing `.0`, `nan`/`inf` as protoc writes them.
enum NumberText {
    static func double(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return trimmed(value.description)
    }

    static func float(_ value: Float) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return trimmed(value.description)
    }

    private static func trimmed(_ text: String) -> String {
        text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}
