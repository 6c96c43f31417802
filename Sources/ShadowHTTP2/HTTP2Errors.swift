/// Why a direction's byte stream stopped being readable as HTTP/2 frames. Offsets count bytes
/// from the start of the direction's stream (or from the last restart after a gap).
public enum HTTP2FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    case badPreface(offset: Int)
    case frameTooLarge(offset: Int, type: HTTP2FrameType, streamID: UInt32, length: Int, limit: Int)
    case badLength(offset: Int, type: HTTP2FrameType, streamID: UInt32, length: Int, expected: String)
    case badPadding(offset: Int, type: HTTP2FrameType, streamID: UInt32, padLength: Int, length: Int)
    case missingStreamID(offset: Int, type: HTTP2FrameType)
    case unexpectedStreamID(offset: Int, type: HTTP2FrameType, streamID: UInt32)
    case noFrameBoundary(offset: Int, scanned: Int)

    public var description: String {
        switch self {
        case .badPreface(let offset):
            "bytes at offset \(offset) are not the client connection preface"
        case .frameTooLarge(let offset, let type, let stream, let length, let limit):
            "\(type) frame at offset \(offset) on stream \(stream) is \(length) bytes, over the \(limit)-byte maximum frame size"
        case .badLength(let offset, let type, let stream, let length, let expected):
            "\(type) frame at offset \(offset) on stream \(stream) is \(length) bytes, expected \(expected)"
        case .badPadding(let offset, let type, let stream, let padLength, let length):
            "\(type) frame at offset \(offset) on stream \(stream) has \(padLength) bytes of padding in a \(length)-byte payload"
        case .missingStreamID(let offset, let type):
            "\(type) frame at offset \(offset) is on stream 0, which it must not be"
        case .unexpectedStreamID(let offset, let type, let stream):
            "\(type) frame at offset \(offset) is on stream \(stream), it must be on stream 0"
        case .noFrameBoundary(let offset, let scanned):
            "no plausible HTTP/2 frame header in \(scanned) bytes from offset \(offset)"
        }
    }

    /// A stable snake_case name for counting.
    public var counterName: String {
        switch self {
        case .badPreface: "http2_bad_preface"
        case .frameTooLarge: "http2_frame_too_large"
        case .badLength: "http2_bad_frame_length"
        case .badPadding: "http2_bad_padding"
        case .missingStreamID, .unexpectedStreamID: "http2_bad_stream_id"
        case .noFrameBoundary: "http2_no_frame_boundary"
        }
    }
}

/// Why a header block (HEADERS or PUSH_PROMISE and its CONTINUATIONs) could not be put together.
public enum HeaderBlockError: Error, Hashable, Sendable, CustomStringConvertible {
    case continuationWithoutBlock(offset: Int, streamID: UInt32)
    case interrupted(offset: Int, streamID: UInt32, by: HTTP2FrameType, onStream: UInt32)
    case tooLarge(offset: Int, streamID: UInt32, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .continuationWithoutBlock(let offset, let stream):
            "CONTINUATION at offset \(offset) on stream \(stream) follows no open header block"
        case .interrupted(let offset, let stream, let type, let other):
            "header block of stream \(stream) interrupted at offset \(offset) by \(type) on stream \(other)"
        case .tooLarge(let offset, let stream, let bytes, let limit):
            "header block of stream \(stream) reached \(bytes) bytes at offset \(offset), over the \(limit)-byte limit"
        }
    }

    public var counterName: String {
        switch self {
        case .continuationWithoutBlock: "http2_orphan_continuation"
        case .interrupted: "http2_interrupted_header_block"
        case .tooLarge: "http2_header_block_too_large"
        }
    }
}

/// Why an HPACK header block could not be decoded. Offsets count bytes into the block.
public enum HPACKError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated(offset: Int)
    case integerOverflow(offset: Int)
    case zeroIndex(offset: Int)
    case indexOutOfRange(offset: Int, index: Int, entries: Int)
    case tableSizeUpdateTooLarge(offset: Int, requested: Int, limit: Int)
    case misplacedTableSizeUpdate(offset: Int)
    case headerListTooLarge(offset: Int, size: Int, limit: Int)
    case badHuffman(offset: Int)
    case stringTooLong(offset: Int, length: Int, limit: Int)

    public var description: String {
        switch self {
        case .truncated(let offset): "header block ends inside a field at offset \(offset)"
        case .integerOverflow(let offset): "integer at offset \(offset) is too large"
        case .zeroIndex(let offset): "indexed field at offset \(offset) has index 0"
        case .indexOutOfRange(let offset, let index, let entries):
            "index \(index) at offset \(offset) is past the table's \(61 + entries) entries"
        case .tableSizeUpdateTooLarge(let offset, let requested, let limit):
            "dynamic table size update at offset \(offset) to \(requested) bytes exceeds the \(limit)-byte limit"
        case .misplacedTableSizeUpdate(let offset):
            "dynamic table size update at offset \(offset) is not at the start of the block"
        case .headerListTooLarge(let offset, let size, let limit):
            "header list reached \(size) bytes at offset \(offset), over the \(limit)-byte limit"
        case .badHuffman(let offset): "Huffman-coded string at offset \(offset) does not decode"
        case .stringTooLong(let offset, let length, let limit):
            "string at offset \(offset) is \(length) bytes, over the \(limit)-byte limit"
        }
    }

    public var counterName: String {
        switch self {
        case .truncated, .integerOverflow, .zeroIndex, .badHuffman: "hpack_malformed"
        case .indexOutOfRange: "hpack_index_out_of_range"
        case .tableSizeUpdateTooLarge, .misplacedTableSizeUpdate: "hpack_bad_table_size_update"
        case .headerListTooLarge, .stringTooLong: "hpack_header_list_too_large"
        }
    }
}
