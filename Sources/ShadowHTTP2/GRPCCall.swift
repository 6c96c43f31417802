import ShadowCore

/// A gRPC call read from an HTTP/2 exchange: the RPC path, the message sequences both ways
/// with their timing, the status, and the metadata gRPC defines.
public struct GRPCCall: Hashable, Sendable {
    /// `:path`, i.e. `/package.Service/Method`.
    public var method: String?
    public var requestMessages: [GRPCMessage] = []
    public var responseMessages: [GRPCMessage] = []
    /// From the trailers, or from the headers of a trailers-only response.
    public var status: GRPCStatus?
    /// A response that is a single HEADERS frame with END_STREAM carrying `grpc-status`.
    public var trailersOnly = false
    /// `grpc-encoding` of each side (the compression of messages flagged compressed).
    public var requestEncoding: String?
    public var responseEncoding: String?
    /// `grpc-timeout` of the request.
    public var timeoutNs: Int64?
    /// `-bin` metadata of the request, response headers and trailers, base64 undone.
    public var binaryMetadata: [String: [UInt8]] = [:]
    /// Problems reading messages, in the order met.
    public var framingErrors: [GRPCFramingError] = []

    /// Reads the call; nil when the request is not gRPC (by `content-type`).
    public init?(exchange: HTTP2Exchange, maxMessageBytes: Int = 4 << 20) {
        let request = exchange.request, response = exchange.response
        let contentType = request.headers.first("content-type") ?? response.headers.first("content-type")
        guard GRPCMetadata.isGRPC(contentType: contentType) else { return nil }
        method = request.headers.first(":path")
        requestEncoding = request.headers.first("grpc-encoding")
        responseEncoding = response.headers.first("grpc-encoding")
        timeoutNs = request.headers.first("grpc-timeout").flatMap(GRPCMetadata.timeoutNs)
        if let status = GRPCMetadata.status(in: response.trailers) {
            self.status = status
        } else if response.bodyBytes == 0, response.trailers.isEmpty, let status = GRPCMetadata.status(in: response.headers) {
            self.status = status
            trailersOnly = true
        }
        for field in request.headers + response.headers + response.trailers where field.name.hasSuffix("-bin") {
            if let bytes = GRPCMetadata.binaryValue(field.value) { binaryMetadata[field.name] = bytes }
        }
        requestMessages = Self.messages(of: request, maxMessageBytes: maxMessageBytes, errors: &framingErrors)
        responseMessages = Self.messages(of: response, maxMessageBytes: maxMessageBytes, errors: &framingErrors)
    }

    static func messages(of message: HTTP2Message, maxMessageBytes: Int, errors: inout [GRPCFramingError]) -> [GRPCMessage] {
        var framer = GRPCMessageFramer(maxMessageBytes: maxMessageBytes)
        var messages: [GRPCMessage] = []
        framer.append(message.body)
        while true {
            do {
                guard var next = try framer.next() else { break }
                next.timestampNs = completion(of: next, marks: message.bodyMarks)
                messages.append(next)
            } catch {
                errors.append(error)
                if case .badCompressedFlag = error { break }
            }
        }
        if !message.truncated {
            do throws(GRPCFramingError) { try framer.finish() } catch { errors.append(error) }
        }
        return messages
    }

    /// The time of the DATA frame holding the message's last byte.
    private static func completion(of message: GRPCMessage, marks: [HTTP2BodyMark]) -> Int64? {
        let last = message.offset + GRPCMessageFramer.prefixSize + message.payload.count - 1
        var low = 0, high = marks.count
        while low < high {
            let mid = (low + high) / 2
            if marks[mid].offset <= last { low = mid + 1 } else { high = mid }
        }
        return low > 0 ? marks[low - 1].timestampNs : nil
    }
}
