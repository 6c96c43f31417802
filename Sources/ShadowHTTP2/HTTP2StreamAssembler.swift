import NIOCore
import ShadowCore

/// Turns both directions of one HTTP/2 connection into one exchange per stream.
///
/// Feed each direction's bytes in capture order with the timestamp of the packet that carried
/// them; take finished exchanges as they come and the rest at `finish()`.
///
/// Promises: never fails on any input; everything it could not use is counted in `counters`
/// (the directions' counts included). At most `limits.maxOpenStreams` streams are held (more are
/// counted `http2_too_many_streams` and ignored) and at most `limits.maxBodyBytes` of each body
/// (the rest counted `http2_body_truncated`, the message marked truncated). Flow control is not
/// enforced. Exchanges come out in the order their streams ended.
public struct HTTP2StreamAssembler: Sendable {
    /// How much of the connection the bytes cover.
    public enum Start: Hashable, Sendable {
        /// Both directions from their first byte (client preface, then frames).
        case connectionStart
        /// Unknown: each direction finds its first frame; streams already open are kept.
        case midConnection
    }

    public let limits: HTTP2Limits
    private var client: HTTP2DirectionDecoder
    private var server: HTTP2DirectionDecoder
    private var streams: [UInt32: HTTP2Exchange] = [:]
    private var closed = RecentStreams(capacity: 4096)
    private var highestStream: [HTTP2Direction: UInt32] = [.client: 0, .server: 0]
    private var lenient: Bool
    private var finished: [HTTP2Exchange] = []
    private var ownCounters = Counters()

    public init(start: Start, limits: HTTP2Limits = HTTP2Limits()) {
        self.limits = limits
        lenient = start == .midConnection
        client = HTTP2DirectionDecoder(start: start == .midConnection ? .midConnection : .clientPreface, limits: limits)
        server = HTTP2DirectionDecoder(start: start == .midConnection ? .midConnection : .frames, limits: limits)
    }

    /// Every count: the assembler's own and both directions'.
    public var counters: Counters {
        var all = ownCounters
        all.merge(client.counters)
        all.merge(server.counters)
        return all
    }

    /// Streams open now.
    public var openStreams: Int { streams.count }

    /// Whether the client's preface was seen.
    public var sawPreface: Bool { client.reader.sawPreface }

    /// The request of an HTTP/1.1 `Upgrade: h2c` that the server answered with 101: it becomes
    /// stream 1, half-closed by the client (RFC 7540 §3.2).
    public mutating func adoptUpgradeRequest(headers: [HeaderField], body: [UInt8], timestampNs: Int64) {
        var exchange = HTTP2Exchange(streamID: 1)
        exchange.request.headers = headers
        exchange.request.sawHeaders = true
        appendBody(body, to: &exchange.request, timestampNs: timestampNs)
        exchange.request.ended = true
        exchange.requestStartNs = timestampNs
        exchange.requestEndNs = timestampNs
        streams[1] = exchange
        highestStream[.client] = 1
    }

    public mutating func ingest(_ bytes: ByteBuffer, from direction: HTTP2Direction, timestampNs: Int64) {
        let events = direction == .client ? client.ingest(bytes) : server.ingest(bytes)
        for event in events { handle(event, from: direction, at: timestampNs) }
    }

    public mutating func ingest(_ bytes: some Sequence<UInt8>, from direction: HTTP2Direction, timestampNs: Int64) {
        ingest(ByteBuffer(bytes: bytes), from: direction, timestampNs: timestampNs)
    }

    /// Bytes of `direction` are missing: its decoding restarts and its open messages are
    /// marked incomplete.
    public mutating func gap(in direction: HTTP2Direction) {
        ownCounters.add("http2_gap")
        if direction == .client { client.restart() } else { server.restart() }
        lenient = true
        for id in Array(streams.keys) {
            if direction == .client { streams[id]!.request.incomplete = true } else { streams[id]!.response.incomplete = true }
        }
    }

    /// Exchanges whose streams ended since the last call.
    public mutating func takeExchanges() -> [HTTP2Exchange] {
        defer { finished.removeAll() }
        return finished
    }

    /// The connection's bytes ended: every stream still open comes out as `unfinished`.
    public mutating func finish() -> [HTTP2Exchange] {
        for id in streams.keys.sorted() {
            ownCounters.add("http2_unfinished_stream")
            close(id)
        }
        return takeExchanges()
    }

    private mutating func handle(_ event: HTTP2Event, from direction: HTTP2Direction, at time: Int64) {
        switch event {
        case .headers(let id, let list, let endStream):
            guard var exchange = stream(id, from: direction, byHeaders: true, at: time) else { return }
            receiveHeaders(list, endStream: endStream, into: &exchange, from: direction, at: time)
            store(exchange, endStream: endStream, from: direction)
        case .lostHeaders(let id, let endStream):
            guard var exchange = stream(id, from: direction, byHeaders: true, at: time) else { return }
            if direction == .client { exchange.request.incomplete = true } else { exchange.response.incomplete = true }
            mark(&exchange, from: direction, at: time, endStream: endStream)
            store(exchange, endStream: endStream, from: direction)
        case .pushPromise(let id, let promised, let list):
            guard direction == .server, streams[id] != nil || lenient else {
                ownCounters.add("http2_push_promise_on_unknown_stream")
                return
            }
            guard var exchange = open(promised, at: time, initiator: .server) else { return }
            exchange.pushed = true
            exchange.promisedOn = id
            exchange.request.headers = list.fields
            exchange.request.sawHeaders = true
            exchange.request.unknownHeaderEntries = list.unknownEntries
            exchange.request.ended = true
            exchange.requestEndNs = time
            streams[promised] = exchange
        case .data(let id, let bytes, let endStream):
            guard var exchange = stream(id, from: direction, byHeaders: false, at: time) else { return }
            var bytes = bytes
            let chunk = bytes.readBytes(length: bytes.readableBytes) ?? []
            if direction == .client {
                appendBody(chunk, to: &exchange.request, timestampNs: time)
            } else {
                appendBody(chunk, to: &exchange.response, timestampNs: time)
            }
            mark(&exchange, from: direction, at: time, endStream: endStream)
            store(exchange, endStream: endStream, from: direction)
        case .rstStream(let id, let code):
            guard streams[id] != nil else { return }
            streams[id]!.outcome = .reset(errorCode: code, by: direction)
            close(id)
        case .settings(let settings, let ack):
            ownCounters.add(ack ? "http2_settings_ack" : "http2_settings")
            if direction == .client { server.apply(peerSettings: settings) } else { client.apply(peerSettings: settings) }
        case .goAway(let last, let code):
            ownCounters.add("http2_goaway")
            let refusedInitiator: UInt32 = direction == .server ? 1 : 0
            for id in streams.keys.sorted() where id > last && id % 2 == refusedInitiator {
                streams[id]!.outcome = .goAway(errorCode: code)
                close(id)
            }
        case .ping, .windowUpdate, .priority:
            break
        }
    }

    /// The open stream `id`, opening it when it is new and may be opened. A stream opened by
    /// anything but its initiator's HEADERS was already open before the capture saw it.
    private mutating func stream(_ id: UInt32, from direction: HTTP2Direction, byHeaders: Bool, at time: Int64) -> HTTP2Exchange? {
        if let exchange = streams[id] { return exchange }
        guard !closed.contains(id) else {
            ownCounters.add("http2_frame_on_closed_stream")
            return nil
        }
        let initiator: HTTP2Direction = id % 2 == 1 ? .client : .server
        let opensIt = byHeaders && direction == initiator
        let isNew = id > highestStream[initiator]!
        guard opensIt ? isNew || lenient : lenient else {
            ownCounters.add(isNew ? "http2_frame_on_idle_stream" : "http2_frame_on_closed_stream")
            return nil
        }
        guard var exchange = open(id, at: time, initiator: initiator) else { return nil }
        exchange.startedBeforeCapture = !opensIt
        return exchange
    }

    private mutating func open(_ id: UInt32, at time: Int64, initiator: HTTP2Direction) -> HTTP2Exchange? {
        highestStream[initiator] = max(highestStream[initiator]!, id)
        guard streams.count < limits.maxOpenStreams else {
            ownCounters.add("http2_too_many_streams")
            closed.insert(id)
            return nil
        }
        ownCounters.add("http2_streams")
        var exchange = HTTP2Exchange(streamID: id)
        exchange.requestStartNs = time
        return exchange
    }

    private mutating func receiveHeaders(_ list: HPACKHeaderList, endStream: Bool, into exchange: inout HTTP2Exchange, from direction: HTTP2Direction, at time: Int64) {
        if direction == .client {
            if exchange.request.sawHeaders || exchange.request.bodyBytes > 0 {
                exchange.request.trailers = list.fields
            } else {
                exchange.request.headers = list.fields
                exchange.request.sawHeaders = true
            }
            exchange.request.unknownHeaderEntries += list.unknownEntries
        } else {
            if exchange.firstResponseByteNs == nil { exchange.firstResponseByteNs = time }
            if exchange.response.sawHeaders || exchange.response.bodyBytes > 0 {
                exchange.response.trailers = list.fields
            } else if let status = list.fields.first(":status").flatMap({ Int($0) }), (100..<200).contains(status), status != 101, !endStream {
                exchange.response.informational += 1
            } else {
                exchange.response.headers = list.fields
                exchange.response.sawHeaders = true
            }
            exchange.response.unknownHeaderEntries += list.unknownEntries
        }
        mark(&exchange, from: direction, at: time, endStream: endStream)
    }

    private func mark(_ exchange: inout HTTP2Exchange, from direction: HTTP2Direction, at time: Int64, endStream: Bool) {
        if direction == .server, exchange.firstResponseByteNs == nil { exchange.firstResponseByteNs = time }
        guard endStream else { return }
        if direction == .client {
            exchange.request.ended = true
            exchange.requestEndNs = time
        } else {
            exchange.response.ended = true
            exchange.responseEndNs = time
        }
    }

    private mutating func appendBody(_ chunk: [UInt8], to message: inout HTTP2Message, timestampNs: Int64) {
        if message.bodyMarks.count < HTTP2Message.maxBodyMarks {
            message.bodyMarks.append(HTTP2BodyMark(offset: message.bodyBytes, timestampNs: timestampNs))
        }
        message.bodyBytes += chunk.count
        let room = limits.maxBodyBytes - message.body.count
        if chunk.count > room {
            if !message.truncated { ownCounters.add("http2_body_truncated") }
            message.truncated = true
        }
        message.body.append(contentsOf: chunk.prefix(max(room, 0)))
    }

    private mutating func store(_ exchange: HTTP2Exchange, endStream: Bool, from direction: HTTP2Direction) {
        streams[exchange.streamID] = exchange
        if endStream, direction == .server {
            streams[exchange.streamID]!.outcome = .complete
            close(exchange.streamID)
        }
    }

    private mutating func close(_ id: UInt32) {
        guard let exchange = streams.removeValue(forKey: id) else { return }
        closed.insert(id)
        finished.append(exchange)
    }
}

/// The ids of the streams closed most recently, so that their late frames are told apart from
/// frames of streams opened before the capture.
struct RecentStreams: Sendable {
    let capacity: Int
    private var set: Set<UInt32> = []
    private var order: [UInt32] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ id: UInt32) -> Bool { set.contains(id) }

    mutating func insert(_ id: UInt32) {
        guard !set.contains(id) else { return }
        if order.count < capacity {
            order.append(id)
        } else {
            set.remove(order[next])
            order[next] = id
            next = (next + 1) % capacity
        }
        set.insert(id)
    }
}
