import ShadowCore

/// Parses the client-to-server direction of one connection into requests.
///
/// Contract: a thin request-role `HTTP1MessageReader` (see there for framing, bounds and resync).
/// Reports `.requestHead` as soon as a head is framed, so the response side learns the method
/// before the response arrives; a request asking for a protocol switch holds later bytes until
/// `resume`, `stop` or `handOff`.
struct HTTP1RequestParser: ByteStreamConsumer {
    private var reader: HTTP1MessageReader

    init(limits: CaptureLimits) {
        reader = HTTP1MessageReader(role: .request, maxHeaderBytes: limits.maxHeaderBytes, maxBodyBytes: limits.maxBodyBytes)
    }

    var isHeld: Bool { reader.isHeld }

    mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
        reader.receive(bytes, timestampNs: timestampNs, tally: &tally)
    }

    mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally) {
        reader.gap(byteCount, timestampNs: timestampNs, tally: &tally)
    }

    mutating func beginMidstream() { reader.beginMidstream() }
    mutating func finish(tally: inout CaptureTally) { reader.finish(tally: &tally) }
    mutating func resume(timestampNs: Int64, tally: inout CaptureTally) { reader.resume(timestampNs: timestampNs, tally: &tally) }
    mutating func stop() { reader.stop() }
    mutating func handOff() -> [StreamPiece] { reader.handOff() }
    mutating func takeEvents() -> [HTTP1ReaderEvent] { reader.takeEvents() }

    static func recorded(_ message: HTTP1Message) -> RecordedRequest {
        RecordedRequest(
            method: message.head.first, target: message.head.second, version: message.head.third,
            headers: message.head.headers, body: message.body)
    }
}
