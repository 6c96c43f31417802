import ShadowCore

/// Which side of an HTTP/1.x connection a reader parses.
enum HTTP1Role: Sendable {
    case request, response
}

/// A parsed message head: the start line in three parts, fields in wire order and case.
struct HTTP1Head: Sendable, Hashable {
    /// Request: method. Response: version.
    var first: String
    /// Request: target. Response: status code.
    var second: String
    /// Request: version. Response: reason phrase.
    var third: String
    var headers: [HeaderField]
}

/// A complete message with the capture times of its first and last byte.
struct HTTP1Message: Sendable, Hashable {
    var head: HTTP1Head
    /// De-chunked body; trailer fields, if any, are appended to `head.headers`.
    var body: [UInt8]
    var startNs: Int64
    var endNs: Int64
}

/// What a reader reports, in stream order.
enum HTTP1ReaderEvent: Sendable, Hashable {
    /// A request head was parsed; its response will be framed by `method`.
    case requestHead(method: String, startNs: Int64)
    /// A complete message. `solicited` (responses) says whether a request head was waiting for it;
    /// `switchesProtocol` marks a 101 or a 2xx answer to CONNECT, after which the reader hands off.
    case message(HTTP1Message, solicited: Bool, switchesProtocol: Bool)
    /// A message lost after its head was reported (cut by a gap or the end, or its body over the limit).
    case dropped(solicited: Bool)
    /// A 1xx response other than 101: it answers no request.
    case interim
    /// The HTTP/2 prior-knowledge preface where a request had to start; the reader hands off.
    case http2Preface
}

/// An incremental HTTP/1.0 / 1.1 parser for one direction of one connection.
///
/// Contract:
/// - Bytes arrive in order through `receive`; `gap` says bytes are missing; `finish` says the
///   direction ended. Events accumulate in `events` until the owner takes them.
/// - Bounded: a header section (or trailer section) over `maxHeaderBytes` is unparsable; a body over
///   `maxBodyBytes` is framed but not kept (counted `oversized_body`). Buffered bytes never exceed
///   one header section, one chunk-size line or one start line, plus one packet.
/// - Framing (RFC 9112 §6): Transfer-Encoding ending in `chunked`, else Content-Length, else (requests)
///   no body, (responses) read until the connection closes. Responses to HEAD, and 204 / 304, have no
///   body; 1xx other than 101 are interim and answer no request. A response learns its request's
///   method from `expect(method:requestStartNs:)`, fed in request order; a response that started
///   before the next waiting request did cannot answer it and is unsolicited.
/// - A 101, or a 2xx to CONNECT, completes the message and the reader hands off: the bytes after
///   it, and everything received until `handOff()`, are kept for the next protocol's decoder (with
///   the time of the packet they came in, holes as holes). So does the HTTP/2 preface where a request
///   line had to be. A request that asks for a protocol
///   switch (CONNECT, or an `Upgrade` field) completes and then holds later bytes until `resume()`
///   (the switch was refused) or `stop()`; meanwhile the response side, with `holdsUnsolicited`,
///   holds a response that finds no request waiting. Held bytes are bounded by `maxHeaderBytes`,
///   past which parsing resumes.
/// - Never traps. Anything unparsable counts one `unparsable_request` / `unparsable_response`; the
///   reader then skips (counted `skipped_bytes`) to the next line that is a valid start line. A
///   reader that starts mid-stream, or after a gap, resynchronises the same way.
/// - A gap inside a Content-Length or chunk body keeps the framing (the message is still read to its
///   end, then dropped); any other gap drops the message at once. Either way the message counts one
///   `gap` and, if its head was reported, a `.dropped` event.
/// - Times: a message starts at the capture time of the packet holding its first byte and ends at
///   the one holding its last byte (for close-delimited bodies, the last byte before the close).
struct HTTP1MessageReader {
    private enum State: Equatable {
        case idle
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case skipping(atLineStart: Bool)
        case held
        /// The connection left HTTP/1.x: bytes go to `handoff`.
        case handedOff
        case stopped
    }

    private enum Framing {
        case none, length(Int), chunked, untilClose, switchProtocol
    }

    let role: HTTP1Role
    let maxHeaderBytes: Int
    let maxBodyBytes: Int
    /// Longest start line considered while resynchronising.
    static let maxStartLineBytes = 8 << 10
    static let maxChunkLineBytes = 4 << 10

    private(set) var events: [HTTP1ReaderEvent] = []

    private var state: State = .idle
    private var buffer: [UInt8] = []
    private var pos = 0
    private var scanFrom = 0

    // The message being read.
    private var head: HTTP1Head?
    private var sectionBytes = 0
    private var contentLength: String?
    private var transferEncoding: String?
    private var upgradeRequested = false
    private var body: [UInt8] = []
    private var bodyBytes = 0
    private var oversized = false
    private var incomplete = false
    private var startNs: Int64 = 0
    private var lastByteNs: Int64 = 0
    private var solicited = false
    private var headReported = false
    private var trailers: [HeaderField] = []
    private var candidateNs: Int64?
    private var resumeBySkipping = false
    private var handoff: [StreamPiece] = []
    /// (Responses) hold a final response that finds no request waiting, until `resume`: the request
    /// side is holding bytes that may hold its request.
    var holdsUnsolicited = false

    // Responses: methods of the requests still waiting for a response, oldest first.
    private var expectedMethods: [(method: String, startNs: Int64)] = []
    private var expectedHead = 0

    init(role: HTTP1Role, maxHeaderBytes: Int, maxBodyBytes: Int) {
        self.role = role
        self.maxHeaderBytes = max(256, maxHeaderBytes)
        self.maxBodyBytes = max(0, maxBodyBytes)
    }

    private var unparsable: DropReason { role == .request ? .unparsableRequest : .unparsableResponse }

    var isHeld: Bool { state == .held }
    var isStopped: Bool { state == .stopped }
    /// Request heads whose responses have not begun.
    var expectedCount: Int { expectedMethods.count - expectedHead }

    mutating func takeEvents() -> [HTTP1ReaderEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// The stream's start was not seen: skip to the first line that starts a message.
    mutating func beginMidstream() {
        if state == .idle && buffer.isEmpty { state = .skipping(atLineStart: true) }
    }

    /// (Responses) the next request awaiting a response has this method.
    mutating func expect(method: String, requestStartNs: Int64) {
        expectedMethods.append((method, requestStartNs))
    }

    /// Parse the bytes held since `.held`: (requests) the protocol switch was refused, (responses)
    /// the request side resumed.
    mutating func resume(timestampNs: Int64, tally: inout CaptureTally) {
        guard state == .held else { return }
        state = resumeBySkipping ? .skipping(atLineStart: true) : .idle
        resumeBySkipping = false
        process(timestampNs: timestampNs, tally: &tally)
    }

    /// The connection no longer speaks HTTP/1.x: ignore everything from now on.
    mutating func stop() {
        state = .stopped
        buffer = []
        pos = 0
        handoff = []
        resetMessage()
    }

    /// Stops, returning the bytes not parsed as HTTP/1.x: those kept since the reader handed off,
    /// or those it holds or has not parsed yet (stamped with the time of the last packet received).
    mutating func handOff() -> [StreamPiece] {
        var rest = handoff
        if state != .handedOff && pos < buffer.count {
            rest.append(.bytes(buffer[pos...], at: lastByteNs))
        }
        stop()
        return rest
    }

    mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
        if state == .handedOff && !bytes.isEmpty {
            handoff.append(.bytes(bytes, at: timestampNs))
            return
        }
        if state == .stopped || bytes.isEmpty { return }
        buffer.append(contentsOf: bytes)
        if state == .held {
            if buffer.count - pos > maxHeaderBytes { resume(timestampNs: timestampNs, tally: &tally) }
            return
        }
        process(timestampNs: timestampNs, tally: &tally)
    }

    mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally) {
        switch state {
        case .stopped:
            return
        case .handedOff:
            handoff.append(StreamPiece(content: .gap(byteCount), timestampNs: timestampNs))
        case .idle:
            state = .skipping(atLineStart: true)
        case .body(let remaining) where remaining >= byteCount && byteCount > 0:
            incomplete = true
            state = .body(remaining: remaining - byteCount)
            if remaining == byteCount { complete(endNs: timestampNs, tally: &tally) }
        case .chunkData(let remaining) where remaining >= byteCount && byteCount > 0:
            incomplete = true
            state = remaining == byteCount ? .chunkDataEnd : .chunkData(remaining: remaining - byteCount)
        case .untilClose:
            incomplete = true
        case .skipping:
            tally.add(.skippedBytes, buffer.count - pos)
            discardBuffer()
            state = .skipping(atLineStart: true)
        case .held:
            tally.add(.skippedBytes, buffer.count - pos)
            discardBuffer()
            resumeBySkipping = true
        case .head, .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            tally.add(.gap)
            if headReported { events.append(.dropped(solicited: solicited)) }
            resetMessage()
            discardBuffer()
            state = .skipping(atLineStart: true)
        }
    }

    /// The direction ended (FIN, RST, end of capture): a close-delimited body completes; a message
    /// cut short counts `truncated_message`.
    mutating func finish(tally: inout CaptureTally) {
        switch state {
        case .handedOff:
            return
        case .idle, .stopped:
            break
        case .held:
            // No answer decided the switch: parse what was held, as far as it goes.
            var rounds = 0
            while state == .held && rounds < 1024 {
                resume(timestampNs: lastByteNs, tally: &tally)
                rounds += 1
            }
            if state == .held {
                tally.add(.skippedBytes, buffer.count - pos)
            } else {
                finish(tally: &tally)
                return
            }
        case .untilClose:
            complete(endNs: lastByteNs, tally: &tally)
        case .skipping:
            tally.add(.skippedBytes, buffer.count - pos)
        case .head, .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            tally.add(.truncatedMessage)
            if headReported { events.append(.dropped(solicited: solicited)) }
        }
        resetMessage()
        discardBuffer()
        state = .stopped
    }

    // MARK: - Parsing

    private mutating func process(timestampNs ts: Int64, tally: inout CaptureTally) {
        lastByteNs = ts
        parsing: while pos < buffer.count {
            switch state {
            case .stopped, .handedOff:
                pos = buffer.count
            case .held:
                break parsing
            case .idle:
                let b = buffer[pos]
                if b == HTTP1Syntax.cr || b == HTTP1Syntax.lf {
                    pos += 1
                    continue
                }
                if holdsUnsolicited && role == .response && expectedCount == 0 {
                    state = .held
                    break parsing
                }
                beginMessage(startNs: candidateNs ?? ts)
            case .head:
                if !readHeadLine(ts: ts, tally: &tally) { break parsing }
            case .body(let remaining):
                let n = min(remaining, buffer.count - pos)
                takeBody(n)
                if n == remaining {
                    complete(endNs: ts, tally: &tally)
                } else {
                    state = .body(remaining: remaining - n)
                }
            case .untilClose:
                takeBody(buffer.count - pos)
            case .chunkSize:
                guard let lf = HTTP1Syntax.firstLF(in: buffer, from: pos) else {
                    if buffer.count - pos > Self.maxChunkLineBytes { failAfterHead(tally: &tally) }
                    break parsing
                }
                let end = HTTP1Syntax.lineEnd(buffer, start: pos, lf: lf)
                guard let size = HTTP1Syntax.chunkSize(buffer, pos, end) else {
                    failAfterHead(tally: &tally)
                    continue
                }
                pos = lf + 1
                if size == 0 {
                    sectionBytes = 0
                    scanFrom = pos
                    state = .trailers
                } else {
                    if size > maxBodyBytes - bodyBytes { markOversized() }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let n = min(remaining, buffer.count - pos)
                takeBody(n)
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                if buffer[pos] == HTTP1Syntax.lf {
                    pos += 1
                    state = .chunkSize
                } else if buffer[pos] == HTTP1Syntax.cr {
                    guard pos + 1 < buffer.count else { break parsing }
                    guard buffer[pos + 1] == HTTP1Syntax.lf else {
                        failAfterHead(tally: &tally)
                        continue
                    }
                    pos += 2
                    state = .chunkSize
                } else {
                    failAfterHead(tally: &tally)
                }
            case .trailers:
                if !readTrailerLine(ts: ts, tally: &tally) { break parsing }
            case .skipping(let atLineStart):
                if !resynchronise(atLineStart: atLineStart, ts: ts, tally: &tally) { break parsing }
            }
        }
        compact()
    }

    private mutating func beginMessage(startNs: Int64) {
        resetMessage()
        self.startNs = startNs
        candidateNs = nil
        scanFrom = pos
        state = .head
    }

    /// Reads one head line. False when more bytes are needed.
    private mutating func readHeadLine(ts: Int64, tally: inout CaptureTally) -> Bool {
        guard let lf = HTTP1Syntax.firstLF(in: buffer, from: scanFrom) else {
            let pending = buffer.count - pos
            if sectionBytes + pending > maxHeaderBytes
                || head == nil && (pending > Self.maxStartLineBytes
                    || !HTTP1Syntax.plausibleStartLinePrefix(buffer, pos, buffer.count, role: role))
            {
                failHead(tally: &tally)
                return true
            }
            scanFrom = buffer.count
            return false
        }
        sectionBytes += lf + 1 - pos
        guard sectionBytes <= maxHeaderBytes else {
            failHead(tally: &tally)
            return true
        }
        let end = HTTP1Syntax.lineEnd(buffer, start: pos, lf: lf)
        if head == nil {
            if role == .request && HTTP1Syntax.isHTTP2Preface(buffer, pos, end) {
                events.append(.http2Preface)
                beginHandoff()
                return true
            }
            switch role {
            case .request:
                guard let (method, target, version) = HTTP1Syntax.requestLine(buffer, pos, end) else {
                    failHead(tally: &tally)
                    return true
                }
                head = HTTP1Head(first: method, second: target, third: version, headers: [])
            case .response:
                guard let (version, status, reason) = HTTP1Syntax.statusLine(buffer, pos, end) else {
                    failHead(tally: &tally)
                    return true
                }
                head = HTTP1Head(first: version, second: String(status), third: reason, headers: [])
            }
        } else if end == pos {
            pos = lf + 1
            headComplete(ts: ts, tally: &tally)
            return true
        } else if buffer[pos] == HTTP1Syntax.sp || buffer[pos] == HTTP1Syntax.ht {
            // obs-fold: the line continues the previous field's value.
            var start = pos
            while start < end && (buffer[start] == HTTP1Syntax.sp || buffer[start] == HTTP1Syntax.ht) { start += 1 }
            guard let last = head?.headers.indices.last,
                  buffer[start..<end].allSatisfy(HTTP1Syntax.isFieldByte)
            else {
                failHead(tally: &tally)
                return true
            }
            head?.headers[last].value += " " + String(decoding: buffer[start..<end], as: UTF8.self)
        } else {
            guard let (name, value) = HTTP1Syntax.field(buffer, pos, end) else {
                failHead(tally: &tally)
                return true
            }
            let field = HeaderField(
                String(decoding: buffer[name], as: UTF8.self), String(decoding: buffer[value], as: UTF8.self))
            if HTTP1Syntax.nameEquals(buffer, name, "content-length") {
                contentLength = contentLength.map { $0 + "," + field.value } ?? field.value
            } else if HTTP1Syntax.nameEquals(buffer, name, "transfer-encoding") {
                transferEncoding = transferEncoding.map { $0 + "," + field.value } ?? field.value
            } else if HTTP1Syntax.nameEquals(buffer, name, "upgrade") {
                upgradeRequested = true
            }
            head?.headers.append(field)
        }
        pos = lf + 1
        scanFrom = pos
        return true
    }

    private mutating func headComplete(ts: Int64, tally: inout CaptureTally) {
        guard let head else { return }
        let framing: Framing
        switch role {
        case .request:
            if let te = transferEncoding {
                guard HTTP1Syntax.endsWithChunked(te) else {
                    failHead(tally: &tally)
                    return
                }
                framing = .chunked
            } else if let cl = contentLength {
                guard let n = HTTP1Syntax.contentLength(cl) else {
                    failHead(tally: &tally)
                    return
                }
                framing = .length(n)
            } else {
                framing = .none
            }
            events.append(.requestHead(method: head.first, startNs: startNs))
        case .response:
            let status = Int(head.second) ?? 0
            if status < 200 && status != 101 {
                events.append(.interim)
                resetMessage()
                state = .idle
                return
            }
            let method: String?
            if expectedHead < expectedMethods.count && expectedMethods[expectedHead].startNs <= startNs {
                method = expectedMethods[expectedHead].method
                expectedHead += 1
                if expectedHead > 64 && expectedHead * 2 > expectedMethods.count {
                    expectedMethods.removeFirst(expectedHead)
                    expectedHead = 0
                }
            } else {
                method = nil
            }
            solicited = method != nil
            if status == 101 || method == "CONNECT" && status < 300 {
                framing = .switchProtocol
            } else if method == "HEAD" || status == 204 || status == 304 {
                framing = .none
            } else if let te = transferEncoding {
                framing = HTTP1Syntax.endsWithChunked(te) ? .chunked : .untilClose
            } else if let cl = contentLength {
                guard let n = HTTP1Syntax.contentLength(cl) else {
                    if solicited { events.append(.dropped(solicited: true)) }
                    failHead(tally: &tally)
                    return
                }
                framing = .length(n)
            } else {
                framing = .untilClose
            }
        }
        headReported = true
        switch framing {
        case .none:
            complete(endNs: ts, tally: &tally)
        case .length(let n):
            if n > maxBodyBytes { markOversized() }
            if n == 0 {
                complete(endNs: ts, tally: &tally)
            } else {
                state = .body(remaining: n)
            }
        case .chunked:
            state = .chunkSize
        case .untilClose:
            state = .untilClose
        case .switchProtocol:
            complete(endNs: ts, tally: &tally, switchesProtocol: true)
        }
    }

    /// Reads one trailer line. False when more bytes are needed.
    private mutating func readTrailerLine(ts: Int64, tally: inout CaptureTally) -> Bool {
        guard let lf = HTTP1Syntax.firstLF(in: buffer, from: scanFrom) else {
            if sectionBytes + buffer.count - pos > maxHeaderBytes { failAfterHead(tally: &tally) }
            scanFrom = buffer.count
            return false
        }
        sectionBytes += lf + 1 - pos
        let end = HTTP1Syntax.lineEnd(buffer, start: pos, lf: lf)
        if end == pos {
            pos = lf + 1
            complete(endNs: ts, tally: &tally)
            return true
        }
        guard sectionBytes <= maxHeaderBytes, let (name, value) = HTTP1Syntax.field(buffer, pos, end) else {
            failAfterHead(tally: &tally)
            return true
        }
        trailers.append(HeaderField(String(decoding: buffer[name], as: UTF8.self), String(decoding: buffer[value], as: UTF8.self)))
        pos = lf + 1
        scanFrom = pos
        return true
    }

    /// Looks for a line that is a valid start line. False when more bytes are needed.
    private mutating func resynchronise(atLineStart: Bool, ts: Int64, tally: inout CaptureTally) -> Bool {
        if atLineStart {
            let b = buffer[pos]
            if b == HTTP1Syntax.cr || b == HTTP1Syntax.lf {
                tally.add(.skippedBytes)
                pos += 1
                return true
            }
            if let lf = HTTP1Syntax.firstLF(in: buffer, from: pos) {
                let end = HTTP1Syntax.lineEnd(buffer, start: pos, lf: lf)
                if role == .request && HTTP1Syntax.isHTTP2Preface(buffer, pos, end) {
                    events.append(.http2Preface)
                    beginHandoff()
                    return false
                }
                let valid = role == .request
                    ? HTTP1Syntax.requestLine(buffer, pos, end) != nil
                    : HTTP1Syntax.statusLine(buffer, pos, end) != nil
                if valid {
                    state = .idle
                    if candidateNs == nil { candidateNs = ts }
                    return true
                }
            } else if buffer.count - pos <= Self.maxStartLineBytes
                && HTTP1Syntax.plausibleStartLinePrefix(buffer, pos, buffer.count, role: role)
            {
                if candidateNs == nil { candidateNs = ts }
                return false
            }
            candidateNs = nil
            state = .skipping(atLineStart: false)
        }
        guard let lf = HTTP1Syntax.firstLF(in: buffer, from: pos) else {
            tally.add(.skippedBytes, buffer.count - pos)
            pos = buffer.count
            return false
        }
        tally.add(.skippedBytes, lf + 1 - pos)
        pos = lf + 1
        state = .skipping(atLineStart: true)
        return true
    }

    private mutating func takeBody(_ n: Int) {
        guard n > 0 else { return }
        bodyBytes += n
        if !oversized {
            if bodyBytes > maxBodyBytes {
                markOversized()
            } else {
                body.append(contentsOf: buffer[pos..<(pos + n)])
            }
        }
        pos += n
    }

    private mutating func markOversized() {
        oversized = true
        body = []
    }

    private mutating func complete(endNs: Int64, tally: inout CaptureTally, switchesProtocol: Bool = false) {
        if incomplete {
            tally.add(.gap)
            events.append(.dropped(solicited: solicited))
        } else if oversized {
            tally.add(.oversizedBody)
            events.append(.dropped(solicited: solicited))
        } else if var head {
            head.headers += trailers
            events.append(.message(
                HTTP1Message(head: head, body: body, startNs: startNs, endNs: max(startNs, endNs)),
                solicited: solicited, switchesProtocol: switchesProtocol))
        }
        let holds = role == .request && (upgradeRequested || head?.first == "CONNECT")
        resetMessage()
        if switchesProtocol {
            beginHandoff()
        } else {
            state = holds ? .held : .idle
        }
    }

    /// The connection leaves HTTP/1.x at `pos`: the rest of the buffer is the first piece handed off.
    private mutating func beginHandoff() {
        if pos < buffer.count { handoff.append(.bytes(buffer[pos...], at: lastByteNs)) }
        buffer = []
        pos = 0
        scanFrom = 0
        resetMessage()
        state = .handedOff
    }

    /// The head being read is not HTTP/1.x: count it, skip its bytes, look for the next start line.
    private mutating func failHead(tally: inout CaptureTally) {
        tally.add(unparsable)
        let startLineFailed = head == nil
        resetMessage()
        state = .skipping(atLineStart: !startLineFailed)
    }

    /// The body's framing broke after the head was reported.
    private mutating func failAfterHead(tally: inout CaptureTally) {
        tally.add(unparsable)
        events.append(.dropped(solicited: solicited))
        resetMessage()
        state = .skipping(atLineStart: true)
    }

    private mutating func resetMessage() {
        head = nil
        sectionBytes = 0
        contentLength = nil
        transferEncoding = nil
        upgradeRequested = false
        body = []
        bodyBytes = 0
        oversized = false
        incomplete = false
        solicited = false
        headReported = false
        trailers = []
    }

    private mutating func discardBuffer() {
        buffer.removeAll(keepingCapacity: buffer.capacity <= 64 << 10)
        pos = 0
        scanFrom = 0
    }

    /// Drops consumed bytes, keeping the buffer small.
    private mutating func compact() {
        let keep = pos
        if keep >= buffer.count {
            discardBuffer()
        } else if keep > 0 && (keep >= 4096 || keep * 2 >= buffer.count) {
            buffer.removeSubrange(0..<keep)
            pos -= keep
            scanFrom = max(0, scanFrom - keep)
        }
    }
}
