/// Reads structure out of a fuzzer's bytes: numbers and slices from the front, never past the end.
///
/// Contract: every read succeeds; once the bytes run out, numbers read as zero and slices are empty,
/// so a fuzz target never needs to check lengths itself.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public var isEmpty: Bool { offset >= bytes.count }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A big-endian number of `width` bytes (at most 8).
    public mutating func number(bytes width: Int) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<min(width, 8) { value = value << 8 | UInt64(byte()) }
        return value
    }

    /// The next `count` bytes, or as many as are left.
    public mutating func slice(_ count: Int) -> UnsafeRawBufferPointer {
        let end = offset + min(max(0, count), bytes.count - offset)
        defer { offset = end }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer {
        slice(bytes.count - offset)
    }
}
