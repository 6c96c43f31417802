import ShadowCore
import ShadowHTTP2

/// How one finished HTTP/2 stream becomes a stored exchange, or why it does not.
///
/// Contract:
/// - A pushed stream is never stored (`http2_pushed_stream`): no client sent its request.
/// - A stream that did not end by its response's END_STREAM counts its outcome once:
///   `http2_reset_stream`, `http2_goaway_stream` (`http2_unfinished_stream` is the assembler's own).
/// - The request is stored when its HEADERS were decoded with `:method` and `:path`, its END_STREAM
///   was seen and none of its bytes are missing or over the body limit. Otherwise the first of
///   `oversized_body`, `http2_incomplete_message`, `http2_started_before_capture`,
///   `http2_request_without_path` that applies is counted (nothing more when the stream's outcome
///   already says why it stopped), plus `response_without_request` when the response was complete.
/// - A stored request keeps its response under the same conditions (`:status` read as its status);
///   else it is stored without one: `request_without_response`, plus `oversized_body` or
///   `http2_incomplete_message` when that was the cause.
/// - Fields: method `:method`, target `:path`, version `HTTP/2`. Headers are the regular fields in
///   wire order (pseudo-headers left out), then the trailers' fields appended, as HTTP/1 chunked
///   trailers are; a field decoded from an HPACK entry older than the capture is named
///   `unknown-hpack-entry-N`. Bodies are the DATA bytes as received (gRPC messages keep their
///   5-byte prefixes and their compression). The response status is `:status`, for gRPC the HTTP
///   status: `grpc-status` and `grpc-message` are among the fields appended from the trailers, or in
///   the headers of a trailers-only response, so that `headers.first("grpc-status")` finds them.
/// - Protocol `grpc` when the request's `content-type` is gRPC's (method `POST`, target the RPC
///   path), else `h2`. Capture time: the packet of the request's HEADERS; production latency:
///   request end → response end, never negative.
/// - The upgrade request of an `Upgrade: h2c` connection is stream 1's request as HTTP/1.1 parsed it
///   (method, target, version and headers as sent); it was counted in `requests` then.
enum HTTP2StreamRecord {
    /// The HTTP/1.1 request of an `Upgrade: h2c` that a 101 answered: stream 1 of the connection.
    struct UpgradeRequest: Sendable {
        var request: RecordedRequest
        var startNs: Int64
    }

    static let version = "HTTP/2"
    private static let placeholderPrefix = ":unknown-hpack-entry-"

    static func exchange(
        _ stream: HTTP2Exchange, connection: HTTPExchangePairer.Connection, upgrade: UpgradeRequest?,
        tally: inout CaptureTally
    ) -> CapturedExchange? {
        tally.interimResponses += Int64(stream.response.informational)
        switch stream.outcome {
        case .reset: tally.add(.http2ResetStream)
        case .goAway: tally.add(.http2GoAwayStream)
        case .complete, .unfinished: break
        }
        if stream.pushed {
            tally.add(.http2PushedStream)
            return nil
        }
        let (response, responseProblem) = self.response(of: stream)
        if response != nil { tally.responses += 1 }
        let request: RecordedRequest
        let startNs: Int64
        if let upgrade, stream.streamID == 1 {
            request = upgrade.request
            startNs = upgrade.startNs
        } else {
            let (recorded, problem) = self.request(of: stream)
            guard let recorded else {
                if let problem { tally.add(problem) }
                if response != nil { tally.add(.responseWithoutRequest) }
                return nil
            }
            request = recorded
            startNs = stream.requestStartNs ?? 0
            tally.requests += 1
        }
        tally.exchanges += 1
        if response == nil {
            tally.add(.requestWithoutResponse)
            if let responseProblem { tally.add(responseProblem) }
        }
        let contentType = request.headers.first("content-type")
        return CapturedExchange(
            captureTimeNs: startNs, connection: connection.id, client: connection.client, server: connection.server,
            wireProtocol: GRPCMetadata.isGRPC(contentType: contentType) ? .grpc : .h2,
            request: request, response: response,
            productionLatencyNs: response == nil ? nil : stream.latencyNs.map { max(0, $0) })
    }

    private static func request(of stream: HTTP2Exchange) -> (RecordedRequest?, DropReason?) {
        let message = stream.request
        if let problem = problem(of: message) { return (nil, problem) }
        guard message.sawHeaders else { return (nil, .http2StartedBeforeCapture) }
        guard let method = stream.method, let path = stream.path, !method.isEmpty, !path.isEmpty else {
            return (nil, .http2RequestWithoutPath)
        }
        guard message.ended else { return (nil, stream.outcome == .complete ? .http2IncompleteMessage : nil) }
        return (RecordedRequest(method: method, target: path, version: version, headers: fields(of: message), body: message.body), nil)
    }

    private static func response(of stream: HTTP2Exchange) -> (RecordedResponse?, DropReason?) {
        let message = stream.response
        if let problem = problem(of: message) { return (nil, problem) }
        guard message.ended else { return (nil, nil) }
        guard message.sawHeaders else { return (nil, .http2StartedBeforeCapture) }
        guard let status = stream.status else { return (nil, .http2IncompleteMessage) }
        return (RecordedResponse(status: status, headers: fields(of: message), body: message.body), nil)
    }

    private static func problem(of message: HTTP2Message) -> DropReason? {
        if message.truncated { return .oversizedBody }
        if message.incomplete { return .http2IncompleteMessage }
        return nil
    }

    /// Regular header fields, then the trailers' fields; placeholders renamed so that the store's
    /// `Name: value` text keeps them (a name may not start with a colon there).
    static func fields(of message: HTTP2Message) -> [HeaderField] {
        var fields: [HeaderField] = []
        fields.reserveCapacity(message.headers.count + message.trailers.count)
        for field in message.headers + message.trailers {
            if field.name.hasPrefix(placeholderPrefix) {
                fields.append(HeaderField(String(field.name.dropFirst()), field.value))
            } else if !field.name.hasPrefix(":") {
                fields.append(field)
            }
        }
        return fields
    }
}
