import NIOCore
import ShadowCore
import ShadowHTTP2

/// The HTTP/2 part of one captured TCP connection: both directions' reassembled bytes go to an
/// `HTTP2StreamAssembler`; each finished stream comes out as an exchange through `HTTP2StreamRecord`;
/// the assembler's counts go into the capture's tally (drops as their `DropReason`).
///
/// Contract: pieces come in capture order, each direction's in stream order, holes as holes (a hole
/// restarts that direction's decoding). `emit` moves out the streams finished so far, `finish`
/// ends the ones still open (their complete requests stored without a response). Bodies are kept
/// up to `CaptureLimits.maxBodyBytes` per message, as HTTP/1 bodies are.
struct HTTP2ConnectionDecoder {
    private var assembler: HTTP2StreamAssembler
    private var upgrade: HTTP2StreamRecord.UpgradeRequest?
    /// The assembler's counts already added to the tally.
    private var reported = Counters()

    init(start: HTTP2StreamAssembler.Start, limits: CaptureLimits) {
        assembler = HTTP2StreamAssembler(start: start, limits: HTTP2Limits(maxBodyBytes: limits.maxBodyBytes))
    }

    /// An HTTP/1.1 `Upgrade: h2c` request answered 101: it is stream 1, ended at `endNs`.
    mutating func adoptUpgrade(_ request: RecordedRequest, startNs: Int64, endNs: Int64) {
        let pseudo = [HeaderField(":method", request.method), HeaderField(":path", request.target)]
        assembler.adoptUpgradeRequest(headers: pseudo + request.headers, body: request.body, timestampNs: endNs)
        upgrade = .init(request: request, startNs: startNs)
    }

    mutating func receive(_ piece: StreamPiece, from direction: HTTP2Direction) {
        switch piece.content {
        case .bytes(let bytes): assembler.ingest(bytes, from: direction, timestampNs: piece.timestampNs)
        case .gap: assembler.gap(in: direction)
        }
    }

    mutating func emit(_ connection: HTTPExchangePairer.Connection, into outbox: inout [CapturedExchange], tally: inout CaptureTally) {
        let finished = assembler.takeExchanges()
        guard !finished.isEmpty else { return }
        record(finished, connection, into: &outbox, tally: &tally)
    }

    mutating func finish(_ connection: HTTPExchangePairer.Connection, into outbox: inout [CapturedExchange], tally: inout CaptureTally) {
        record(assembler.finish(), connection, into: &outbox, tally: &tally)
    }

    private mutating func record(
        _ streams: [HTTP2Exchange], _ connection: HTTPExchangePairer.Connection, into outbox: inout [CapturedExchange],
        tally: inout CaptureTally
    ) {
        for stream in streams {
            if let exchange = HTTP2StreamRecord.exchange(stream, connection: connection, upgrade: upgrade, tally: &tally) {
                outbox.append(exchange)
            }
        }
        let now = assembler.counters
        for (name, value) in now.values where value != reported[name] {
            tally.add(http2: name, value - reported[name])
        }
        reported = now
    }
}
