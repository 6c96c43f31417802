import ShadowCore
import ShadowHTTP2

/// One TCP connection: two reassembled directions and the protocol they speak (HTTP/1.x through a
/// parser per direction and the pairer, HTTP/2 through `HTTP2ConnectionDecoder`).
///
/// Contract:
/// - Roles: the sender of a SYN without ACK is the client, the sender of a SYN+ACK the server. With
///   no handshake seen, the first payload decides (a request line or the HTTP/2 preface from the
///   client, `HTTP/` from the server), else the lower port is the server's.
/// - Protocol: the first bytes are held until `ConnectionOpening` tells HTTP/1 from HTTP/2 (at the
///   first packet for a client seen from its SYN), then go to that protocol in capture order.
/// - HTTP/1: a direction whose start was seen (SYN, or the SYN+ACK's acknowledgment for the client)
///   is parsed from its first byte; one first seen mid-stream resynchronises on the next message start.
/// - A 101 answering `Upgrade: h2c` makes the rest of the connection HTTP/2, the upgrade request its
///   stream 1. Another 101, or a 2xx to CONNECT, counts `upgraded_connection`; what follows is
///   decoded only when it is HTTP/2 with prior knowledge (a tunnel), else ignored. The HTTP/2
///   preface where a request had to start switches to HTTP/2 too. Every connection decoded as
///   HTTP/2 counts `http2_connection`.
/// - A direction ends when every byte up to its FIN was delivered; the connection closes when both
///   ended, on RST, or when `close` is called (end of capture, idle, port reuse). Closing gives up
///   remaining holes as gaps, ends the parsers or the HTTP/2 streams and emits every request still waiting.
struct HTTPConnectionTracker {
    /// Where the connection's bytes go.
    private enum Mode {
        /// Held in `opening` until they tell the protocol.
        case sniffing
        /// Straight from the reassemblers into the HTTP/1 parsers.
        case http1
        /// Through `PieceQueue`s into `http2`.
        case http2
        /// A protocol not decoded here: the reassemblers discard.
        case ignored
    }

    /// A call on one direction's reassembler.
    private enum Delivery {
        case ingest(sequence: UInt32, payload: UnsafeRawBufferPointer, timestampNs: Int64)
        case acknowledged(UInt32)
        case close(timestampNs: Int64)
    }

    let id: Int64
    private let limits: CaptureLimits
    private(set) var client: Endpoint?
    private var connection: HTTPExchangePairer.Connection
    private var toServer: TCPReassembler
    private var toClient: TCPReassembler
    private var requests: HTTP1RequestParser
    private var responses: HTTP1ResponseParser
    private var pairer = HTTPExchangePairer()
    private var mode = Mode.sniffing
    private var opening = ConnectionOpening(context: .opening)
    private var http2: HTTP2ConnectionDecoder?
    private var requestsEnded = false
    private var responsesEnded = false
    /// HTTP/1 parsing is over (the connection switched protocols).
    private var switched = false
    /// Sequence number of the client's SYN, when seen: tells a retransmitted SYN from port reuse.
    private(set) var clientISN: UInt32?
    private(set) var lastActivityNs: Int64
    private(set) var isClosed = false
    /// Closed by FIN or RST (late segments are then recognised as the old connection's).
    private(set) var closedByTCP = false

    init(id: Int64, limits: CaptureLimits, nowNs: Int64) {
        self.id = id
        self.limits = limits
        connection = .init(id: id, client: "", server: "")
        toServer = TCPReassembler(maxBufferedBytes: limits.maxBufferedBytesPerFlow)
        toClient = TCPReassembler(maxBufferedBytes: limits.maxBufferedBytesPerFlow)
        requests = HTTP1RequestParser(limits: limits)
        responses = HTTP1ResponseParser(limits: limits)
        lastActivityNs = nowNs
    }

    /// Whether a SYN (without ACK) belongs to a new connection on this 4-tuple rather than this one.
    func isNewConnection(synFrom source: Endpoint, sequence: UInt32) -> Bool {
        if let clientISN { return clientISN != sequence }
        if let client, client != source { return isClosed }
        if let next = toServer.nextSequence { return isClosed || next != sequence &+ 1 }
        return isClosed
    }

    mutating func handle(
        _ segment: TCPSegment, payload: UnsafeRawBufferPointer, tally: inout CaptureTally, outbox: inout [CapturedExchange]
    ) {
        guard !isClosed else { return }
        let ts = segment.timestampNs
        lastActivityNs = max(lastActivityNs, ts)
        let flags = segment.flags
        if client == nil && !decideRoles(segment, payload) { return }
        let fromClient = segment.source == client
        if flags.contains(.syn) {
            if fromClient {
                if !flags.contains(.ack) && clientISN == nil { clientISN = segment.sequence }
                toServer.start(at: segment.sequence &+ 1, midstream: false)
            } else {
                toClient.start(at: segment.sequence &+ 1, midstream: false)
                if flags.contains(.ack) { toServer.start(at: segment.acknowledgment, midstream: false) }
            }
        }
        if flags.contains(.ack) {
            deliver(.acknowledged(segment.acknowledgment), to: fromClient ? .server : .client, tally: &tally)
            processEvents(ts, &tally)
        }
        let dataSequence = flags.contains(.syn) ? segment.sequence &+ 1 : segment.sequence
        let direction: HTTP2Direction = fromClient ? .client : .server
        if !payload.isEmpty || flags.contains(.fin) { startMidstreamIfNeeded(direction, at: dataSequence) }
        if !payload.isEmpty {
            deliver(.ingest(sequence: dataSequence, payload: payload, timestampNs: ts), to: direction, tally: &tally)
        }
        if flags.contains(.fin) {
            let end = dataSequence &+ UInt32(truncatingIfNeeded: payload.count)
            if fromClient { toServer.fin(at: end) } else { toClient.fin(at: end) }
        }
        if !requestsEnded && toServer.isFinished {
            requestsEnded = true
            settleOpening(&tally)
            processEvents(ts, &tally)
            requests.finish(tally: &tally)
        }
        if !responsesEnded && toClient.isFinished {
            responsesEnded = true
            settleOpening(&tally)
            processEvents(ts, &tally)
            responses.finish(tally: &tally)
        }
        processEvents(ts, &tally)
        emit(into: &outbox, tally: &tally)
        if flags.contains(.rst) || requestsEnded && responsesEnded {
            closedByTCP = true
            close(tally: &tally, outbox: &outbox)
        }
    }

    /// Ends the connection now: holes become gaps, parsers and HTTP/2 streams end, waiting requests
    /// are emitted.
    mutating func close(tally: inout CaptureTally, outbox: inout [CapturedExchange]) {
        guard !isClosed else { return }
        let ts = lastActivityNs
        deliver(.close(timestampNs: ts), to: .client, tally: &tally)
        processEvents(ts, &tally)
        deliver(.close(timestampNs: ts), to: .server, tally: &tally)
        processEvents(ts, &tally)
        settleOpening(&tally)
        if !requestsEnded {
            requestsEnded = true
            requests.finish(tally: &tally)
            processEvents(ts, &tally)
        }
        if !responsesEnded {
            responsesEnded = true
            responses.finish(tally: &tally)
            processEvents(ts, &tally)
        }
        emit(into: &outbox, tally: &tally)
        pairer.flush(connection, into: &outbox, tally: &tally)
        http2?.finish(connection, into: &outbox, tally: &tally)
        http2 = nil
        isClosed = true
        toServer.discardAll()
        toClient.discardAll()
    }

    private mutating func emit(into outbox: inout [CapturedExchange], tally: inout CaptureTally) {
        pairer.emitReady(connection, into: &outbox, tally: &tally)
        http2?.emit(connection, into: &outbox, tally: &tally)
    }

    /// A direction's first payload (or FIN) came without its SYN: the stream starts mid-way.
    private mutating func startMidstreamIfNeeded(_ direction: HTTP2Direction, at sequence: UInt32) {
        if direction == .client, !toServer.isStarted {
            toServer.start(at: sequence, midstream: true)
            requests.beginMidstream()
        } else if direction == .server, !toClient.isStarted {
            toClient.start(at: sequence, midstream: true)
            responses.beginMidstream()
        }
    }

    /// Runs `delivery` on the reassembler of `direction` (`.client`: the bytes the client sends):
    /// into that direction's HTTP/1 parser, or in the other modes through a queue to `route`.
    private mutating func deliver(_ delivery: Delivery, to direction: HTTP2Direction, tally: inout CaptureTally) {
        switch (mode, direction) {
        case (.http1, .client):
            Self.run(delivery, on: &toServer, into: &requests, tally: &tally)
        case (.http1, .server):
            Self.run(delivery, on: &toClient, into: &responses, tally: &tally)
        case (.ignored, _):
            break
        default:
            var queue = PieceQueue()
            if direction == .client {
                Self.run(delivery, on: &toServer, into: &queue, tally: &tally)
            } else {
                Self.run(delivery, on: &toClient, into: &queue, tally: &tally)
            }
            for piece in queue.pieces { route(piece, from: direction, tally: &tally) }
        }
    }

    private static func run<C: ByteStreamConsumer>(
        _ delivery: Delivery, on stream: inout TCPReassembler, into consumer: inout C, tally: inout CaptureTally
    ) {
        switch delivery {
        case .ingest(let sequence, let payload, let ts):
            stream.ingest(sequence: sequence, payload: payload, timestampNs: ts, into: &consumer, tally: &tally)
        case .acknowledged(let acknowledgment):
            stream.acknowledged(acknowledgment, into: &consumer, tally: &tally)
        case .close(let ts):
            stream.close(timestampNs: ts, into: &consumer, tally: &tally)
        }
    }

    /// One piece of a direction's stream, to whatever the connection speaks now.
    private mutating func route(_ piece: StreamPiece, from direction: HTTP2Direction, tally: inout CaptureTally) {
        switch mode {
        case .http1:
            switch (piece.content, direction) {
            case (.bytes(let buffer), .client):
                buffer.withUnsafeReadableBytes { requests.receive($0, timestampNs: piece.timestampNs, tally: &tally) }
            case (.bytes(let buffer), .server):
                buffer.withUnsafeReadableBytes { responses.receive($0, timestampNs: piece.timestampNs, tally: &tally) }
            case (.gap(let count), .client):
                requests.gap(count, timestampNs: piece.timestampNs, tally: &tally)
            case (.gap(let count), .server):
                responses.gap(count, timestampNs: piece.timestampNs, tally: &tally)
            }
            processEvents(piece.timestampNs, &tally)
        case .sniffing:
            let fromStart = direction == .client ? !toServer.startedMidstream : !toClient.startedMidstream
            if let verdict = opening.hold(piece, from: direction, fromStart: fromStart) { adopt(verdict, tally: &tally) }
        case .http2:
            http2?.receive(piece, from: direction)
        case .ignored:
            break
        }
    }

    /// A direction ended or the connection closes: held bytes are decided on what was seen.
    private mutating func settleOpening(_ tally: inout CaptureTally) {
        guard mode == .sniffing else { return }
        adopt(opening.finalVerdict(), tally: &tally)
    }

    /// Leaves sniffing for `verdict` and routes it the pieces held.
    private mutating func adopt(_ verdict: ConnectionOpening.Verdict, tally: inout CaptureTally) {
        let held = opening.takePieces()
        switch verdict {
        case .http1:
            mode = .http1
        case .http2(let start):
            startHTTP2(HTTP2ConnectionDecoder(start: start, limits: limits), tally: &tally)
        case .other:
            mode = .ignored
            toServer.discardAll()
            toClient.discardAll()
        }
        for (direction, piece) in held { route(piece, from: direction, tally: &tally) }
    }

    private mutating func startHTTP2(_ decoder: HTTP2ConnectionDecoder, tally: inout CaptureTally) {
        tally.add(.http2Connection)
        mode = .http2
        http2 = decoder
    }

    private mutating func decideRoles(_ segment: TCPSegment, _ payload: UnsafeRawBufferPointer) -> Bool {
        let flags = segment.flags
        let sourceIsClient: Bool
        if flags.contains(.syn) {
            sourceIsClient = !flags.contains(.ack)
        } else if !payload.isEmpty {
            if payload.starts(with: "HTTP/".utf8) {
                sourceIsClient = false
            } else if HTTP1Syntax.startsLikeRequestLine(payload) {
                sourceIsClient = true
            } else {
                sourceIsClient = segment.source.port > segment.destination.port
            }
        } else if flags.contains(.fin) || flags.contains(.rst) {
            sourceIsClient = segment.source.port > segment.destination.port
        } else {
            return false
        }
        let client = sourceIsClient ? segment.source : segment.destination
        let server = sourceIsClient ? segment.destination : segment.source
        self.client = client
        connection = .init(id: id, client: client.description, server: server.description)
        return true
    }

    private mutating func processEvents(_ ts: Int64, _ tally: inout CaptureTally) {
        var rounds = 0
        while rounds < 1024 {
            rounds += 1
            var progressed = false
            let requestEvents = requests.takeEvents()
            progressed = progressed || !requestEvents.isEmpty
            for event in requestEvents {
                switch event {
                case .requestHead(let method, let startNs):
                    responses.expect(method: method, requestStartNs: startNs)
                    pairer.requestStarted()
                case .message(let message, _, _):
                    tally.requests += 1
                    pairer.requestCompleted(HTTP1RequestParser.recorded(message), startNs: message.startNs, endNs: message.endNs)
                case .dropped:
                    pairer.requestDropped()
                case .http2Preface:
                    leaveHTTP1(for: HTTP2ConnectionDecoder(start: .connectionStart, limits: limits), tally: &tally)
                case .interim:
                    break
                }
            }
            let holding = !switched && requests.isHeld
            responses.holdsUnsolicited = holding
            if !holding && responses.isHeld {
                responses.resume(timestampNs: ts, tally: &tally)
                progressed = true
            }
            let responseEvents = responses.takeEvents()
            progressed = progressed || !responseEvents.isEmpty
            for event in responseEvents {
                switch event {
                case .interim:
                    tally.interimResponses += 1
                case .message(let message, let solicited, let switchesProtocol):
                    tally.responses += 1
                    let response = HTTP1ResponseParser.recorded(message)
                    if switchesProtocol, solicited, response.status == 101,
                       let upgrade = pairer.takeAnsweredRequest(where: { Self.upgradesToH2C($0, response) })
                    {
                        var decoder = HTTP2ConnectionDecoder(start: .connectionStart, limits: limits)
                        decoder.adoptUpgrade(upgrade.request, startNs: upgrade.startNs, endNs: upgrade.endNs)
                        leaveHTTP1(for: decoder, tally: &tally)
                        continue
                    }
                    if !solicited || !pairer.responseCompleted(response, endNs: message.endNs) {
                        tally.add(.responseWithoutRequest)
                    }
                    if switchesProtocol {
                        tally.add(.upgradedConnection)
                        leaveHTTP1(for: nil, tally: &tally)
                    }
                case .dropped(let solicited):
                    if solicited { pairer.responseDropped() }
                case .requestHead, .http2Preface:
                    break
                }
            }
            if !switched && requests.isHeld && pairer.awaitingResponses == 0 {
                requests.resume(timestampNs: ts, tally: &tally)
                progressed = true
            }
            if !progressed { break }
        }
    }

    /// HTTP/1 parsing is over: the bytes the parsers did not use, and all later ones, go to `decoder`,
    /// or (none given: a switch to a protocol not named) to sniffing for HTTP/2 with prior knowledge.
    private mutating func leaveHTTP1(for decoder: HTTP2ConnectionDecoder?, tally: inout CaptureTally) {
        guard !switched else { return }
        switched = true
        let clientRest = requests.handOff()
        let serverRest = responses.handOff()
        if let decoder {
            startHTTP2(decoder, tally: &tally)
        } else {
            mode = .sniffing
            opening = ConnectionOpening(context: .switched)
        }
        for piece in serverRest { route(piece, from: .server, tally: &tally) }
        for piece in clientRest { route(piece, from: .client, tally: &tally) }
    }

    /// Whether a 101 switches to h2c: its `Upgrade` names `h2c` (or, having none, the request's does).
    static func upgradesToH2C(_ request: RecordedRequest, _ response: RecordedResponse) -> Bool {
        let offered = response.headers.first("upgrade") ?? request.headers.first("upgrade") ?? ""
        return offered.split(separator: ",").contains { token in
            token.filter { $0 != " " && $0 != "\t" }.lowercased() == "h2c"
        }
    }
}
