import ShadowCore

/// Parses the server-to-client direction of one connection into responses.
///
/// Contract: a thin response-role `HTTP1MessageReader` (see there for framing, bounds and resync).
/// It must be told, through `expect(method:)` and in order, the method of every request head seen,
/// so HEAD and CONNECT responses are framed right; interim 1xx responses do not use one up. A final
/// response that finds no method waiting, or that started before the waiting request did (its own
/// request was lost in a gap), is reported unsolicited.
struct HTTP1ResponseParser: ByteStreamConsumer {
    private var reader: HTTP1MessageReader

    init(limits: CaptureLimits) {
        reader = HTTP1MessageReader(role: .response, maxHeaderBytes: limits.maxHeaderBytes, maxBodyBytes: limits.maxBodyBytes)
    }

    mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
        reader.receive(bytes, timestampNs: timestampNs, tally: &tally)
    }

    mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally) {
        reader.gap(byteCount, timestampNs: timestampNs, tally: &tally)
    }

    mutating func expect(method: String, requestStartNs: Int64) {
        reader.expect(method: method, requestStartNs: requestStartNs)
    }
    mutating func beginMidstream() { reader.beginMidstream() }
    var isHeld: Bool { reader.isHeld }
    /// Hold a response that finds no request waiting (the request side is holding bytes).
    var holdsUnsolicited: Bool {
        get { reader.holdsUnsolicited }
        set { reader.holdsUnsolicited = newValue }
    }
    mutating func resume(timestampNs: Int64, tally: inout CaptureTally) { reader.resume(timestampNs: timestampNs, tally: &tally) }
    mutating func finish(tally: inout CaptureTally) { reader.finish(tally: &tally) }
    mutating func stop() { reader.stop() }
    mutating func handOff() -> [StreamPiece] { reader.handOff() }
    mutating func takeEvents() -> [HTTP1ReaderEvent] { reader.takeEvents() }

    static func recorded(_ message: HTTP1Message) -> RecordedResponse {
        RecordedResponse(status: Int(message.head.second) ?? 0, headers: message.head.headers, body: message.body)
    }
}
