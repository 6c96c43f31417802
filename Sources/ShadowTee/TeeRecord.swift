import NIOCore
import ShadowCore
import ShadowHTTP1

/// What a tee keeps of one exchange: raw heads and bodies, copied into a spool segment on the
/// event loop and parsed into an `EncodedExchange` only when the segment is expanded.
struct TeeRecord: Sendable {
    var requestHead: ByteBuffer
    var requestBody: ByteBuffer
    /// Replaces the request's target in the record (the mirror's original URI).
    var target: String?
    var responseHead: ByteBuffer?
    var responseBody: ByteBuffer?
    var wallClockNs: Int64
    var connection: Int64
    var client: String
    var server: String
    var latencyNs: UInt64?
    var error: String?

    /// The exchange as stored, with the policy's redactions (counted); nil (counted) when a head
    /// does not parse, which the tee's framing has already ruled out.
    func exchange(policy: RecordingPolicy, tally: TeeTally) -> EncodedExchange? {
        guard let request = policy.storedFields(of: requestHead, isRequest: true) else {
            tally.add(.unparsableRequest)
            return nil
        }
        var response: EncodedExchange.Response?
        var redacted = request.redacted
        if let responseHead {
            guard let parsed = policy.storedFields(of: responseHead, isRequest: false) else {
                tally.add(.unparsableResponse)
                return nil
            }
            redacted += parsed.redacted
            response = EncodedExchange.Response(
                status: parsed.head.status, headerText: parsed.text,
                body: responseBody.map { Array($0.readableBytesView) } ?? [])
        }
        if redacted > 0 { tally.add("redacted_headers", Int64(redacted)) }
        return EncodedExchange(
            captureTimeNs: wallClockNs, connection: connection, client: client, server: server,
            method: request.head.method, target: target ?? request.head.target, version: request.head.version,
            requestHeaderText: request.text, requestBody: Array(requestBody.readableBytesView),
            response: response, productionLatencyNs: latencyNs.map { Int64($0) }, productionError: error)
    }
}
