import ShadowCore

/// One TCP connection carrying HTTP/1.x: two reassembled directions, a parser for each, and the pairer.
///
/// Contract:
/// - Roles: the sender of a SYN without ACK is the client, the sender of a SYN+ACK the server. With
///   no handshake seen, the first payload decides (a request line from the client, `HTTP/` from the
///   server), else the lower port is the server's.
/// - A direction whose start was seen (SYN, or the SYN+ACK's acknowledgment for the client) is parsed
///   from its first byte; one first seen mid-stream resynchronises on the next message start.
/// - A direction ends when every byte up to its FIN was delivered; the connection closes when both
///   ended, on RST, or when `close` is called (end of capture, idle, port reuse). Closing gives up
///   remaining holes as gaps, ends both parsers and emits every request still waiting.
/// - A 101 or a 2xx to CONNECT counts `upgraded_connection`, an HTTP/2 preface `http2_connection`;
///   either way the rest of the connection is ignored.
struct HTTPConnectionTracker {
    let id: Int64
    private(set) var client: Endpoint?
    private var connection: HTTPExchangePairer.Connection
    private var toServer: TCPReassembler
    private var toClient: TCPReassembler
    private var requests: HTTP1RequestParser
    private var responses: HTTP1ResponseParser
    private var pairer = HTTPExchangePairer()
    private var requestsEnded = false
    private var responsesEnded = false
    private var switched = false
    /// Sequence number of the client's SYN, when seen: tells a retransmitted SYN from port reuse.
    private(set) var clientISN: UInt32?
    private(set) var lastActivityNs: Int64
    private(set) var isClosed = false
    /// Closed by FIN or RST (late segments are then recognised as the old connection's).
    private(set) var closedByTCP = false

    init(id: Int64, limits: CaptureLimits, nowNs: Int64) {
        self.id = id
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
            if fromClient {
                toClient.acknowledged(segment.acknowledgment, into: &responses, tally: &tally)
            } else {
                toServer.acknowledged(segment.acknowledgment, into: &requests, tally: &tally)
            }
            processEvents(ts, &tally)
        }
        let dataSequence = flags.contains(.syn) ? segment.sequence &+ 1 : segment.sequence
        if fromClient {
            Self.feed(&toServer, &requests, dataSequence, payload, flags, ts, &tally)
        } else {
            Self.feed(&toClient, &responses, dataSequence, payload, flags, ts, &tally)
        }
        if !requestsEnded && toServer.isFinished {
            requestsEnded = true
            processEvents(ts, &tally)
            requests.finish(tally: &tally)
        }
        if !responsesEnded && toClient.isFinished {
            responsesEnded = true
            processEvents(ts, &tally)
            responses.finish(tally: &tally)
        }
        processEvents(ts, &tally)
        pairer.emitReady(connection, into: &outbox, tally: &tally)
        if flags.contains(.rst) || requestsEnded && responsesEnded {
            closedByTCP = true
            close(tally: &tally, outbox: &outbox)
        }
    }

    /// Ends the connection now: holes become gaps, parsers end, waiting requests are emitted.
    mutating func close(tally: inout CaptureTally, outbox: inout [CapturedExchange]) {
        guard !isClosed else { return }
        let ts = lastActivityNs
        toServer.close(timestampNs: ts, into: &requests, tally: &tally)
        processEvents(ts, &tally)
        toClient.close(timestampNs: ts, into: &responses, tally: &tally)
        processEvents(ts, &tally)
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
        pairer.emitReady(connection, into: &outbox, tally: &tally)
        pairer.flush(connection, into: &outbox, tally: &tally)
        isClosed = true
        toServer.discardAll()
        toClient.discardAll()
    }

    private static func feed<P: ByteStreamConsumer & MidstreamAware>(
        _ stream: inout TCPReassembler, _ parser: inout P, _ sequence: UInt32, _ payload: UnsafeRawBufferPointer,
        _ flags: TCPFlags, _ ts: Int64, _ tally: inout CaptureTally
    ) {
        if !stream.isStarted && (!payload.isEmpty || flags.contains(.fin)) {
            stream.start(at: sequence, midstream: true)
            parser.beginMidstream()
        }
        if !payload.isEmpty {
            stream.ingest(sequence: sequence, payload: payload, timestampNs: ts, into: &parser, tally: &tally)
        }
        if flags.contains(.fin) {
            stream.fin(at: sequence &+ UInt32(truncatingIfNeeded: payload.count))
        }
    }

    private mutating func decideRoles(_ segment: TCPSegment, _ payload: UnsafeRawBufferPointer) -> Bool {
        let flags = segment.flags
        let sourceIsClient: Bool
        if flags.contains(.syn) {
            sourceIsClient = !flags.contains(.ack)
        } else if !payload.isEmpty {
            if payload.starts(with: "HTTP/".utf8) {
                sourceIsClient = false
            } else if Self.startsLikeRequest(payload) {
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

    /// A method token followed by a space within the first bytes.
    private static func startsLikeRequest(_ payload: UnsafeRawBufferPointer) -> Bool {
        for (i, b) in payload.prefix(HTTP1Syntax.maxMethodLength + 1).enumerated() {
            if b == HTTP1Syntax.sp { return i > 0 }
            guard b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") else { return false }
        }
        return false
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
                    tally.add(.http2Connection)
                    switchProtocols()
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
                    if !solicited || !pairer.responseCompleted(HTTP1ResponseParser.recorded(message), endNs: message.endNs) {
                        tally.add(.responseWithoutRequest)
                    }
                    if switchesProtocol {
                        tally.add(.upgradedConnection)
                        switchProtocols()
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

    private mutating func switchProtocols() {
        guard !switched else { return }
        switched = true
        requests.stop()
        responses.stop()
        toServer.discardAll()
        toClient.discardAll()
    }
}

/// A parser that can be told its stream starts mid-connection.
protocol MidstreamAware {
    mutating func beginMidstream()
}

extension HTTP1RequestParser: MidstreamAware {}
extension HTTP1ResponseParser: MidstreamAware {}
