/// A tiny protobuf encoder for building test inputs by hand.
struct TestEncoder {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ number: Int, _ wireType: Int) {
        varint(UInt64(number) << 3 | UInt64(wireType))
    }

    mutating func varintField(_ number: Int, _ value: UInt64) {
        tag(number, 0)
        varint(value)
    }

    mutating func signedField(_ number: Int, _ value: Int64) {
        varintField(number, UInt64(bitPattern: value))
    }

    mutating func fixed64Field(_ number: Int, _ value: UInt64) {
        tag(number, 1)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func fixed32Field(_ number: Int, _ value: UInt32) {
        tag(number, 5)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func bytesField(_ number: Int, _ value: [UInt8]) {
        tag(number, 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func stringField(_ number: Int, _ value: String) {
        bytesField(number, Array(value.utf8))
    }

    mutating func messageField(_ number: Int, _ build: (inout TestEncoder) -> Void) {
        var nested = TestEncoder()
        build(&nested)
        bytesField(number, nested.bytes)
    }

    mutating func packedField(_ number: Int, _ values: [UInt64]) {
        var packed = TestEncoder()
        for value in values { packed.varint(value) }
        bytesField(number, packed.bytes)
    }

    static func build(_ build: (inout TestEncoder) -> Void) -> [UInt8] {
        var encoder = TestEncoder()
        build(&encoder)
        return encoder.bytes
    }
}
