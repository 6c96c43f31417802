import Foundation

/// The tee flags a hostile-client test runs with, short so that timeouts pass quickly.
struct TeeClientLimits: Sendable {
    var headerTimeout = 2.0
    var bodyTimeout = 1.0
    var idleTimeout = 2.0
    var maxHeaderBytes = 8192
    var maxHeaderCount = 50
    var maxBodyBytes = 100_000
    var maxConnections = 2100

    var flags: [String] {
        [
            "--header-timeout", "\(headerTimeout)", "--body-timeout", "\(bodyTimeout)", "--idle-timeout", "\(idleTimeout)",
            "--max-header-bytes", "\(maxHeaderBytes)", "--max-header-count", "\(maxHeaderCount)",
            "--max-body-bytes", "\(maxBodyBytes)", "--max-connections", "\(maxConnections)",
        ]
    }
    /// Extra seconds a busy, shared machine may take to deliver what a timeout or a refusal sends.
    static let slack = 1.5
}

/// What happened to one hostile attempt.
enum AttemptOutcome: Equatable, Sendable {
    /// Answered (or closed) as the tee's contract says, in time.
    case answered
    /// Closed at once without a byte: the tee was at `--max-connections`.
    case refusedAtLimit
    case wrong(String)
}

/// A kind of misbehaving client of the tee, and the counter its answered attempts add to.
enum HostileClient: String, CaseIterable, Sendable {
    /// Sends its head a byte every 200 ms, never finishing: 408 after `--header-timeout`.
    case slowloris
    /// Sends a head and part of its body, then stalls: 408 after `--body-timeout`.
    case stalledBody
    /// A head growing past `--max-header-bytes` that never ends: 431 at once.
    case headFlood
    /// More than `--max-header-count` fields, never ending: 431 at once.
    case fieldFlood
    /// A Content-Length (or chunks) over `--max-body-bytes`: 413 at once.
    case oversizedBody
    /// Bytes that are not HTTP/1.1 (each attempt a different kind): 400 at once.
    case invalid
    /// A good request, then silence on the kept-alive connection: closed after `--idle-timeout`.
    case idleKeepAlive

    var counter: String {
        switch self {
        case .slowloris: "header_timeout"
        case .stalledBody: "body_timeout"
        case .headFlood: "oversized_header"
        case .fieldFlood: "too_many_header_fields"
        case .oversizedBody: "oversized_body"
        case .invalid: "malformed_request"
        case .idleKeepAlive: "idle_timeouts"
        }
    }

    static let invalidRequests: [(name: String, bytes: [UInt8])] = [
        ("not HTTP", Array("THIS IS NOT HTTP\r\n\r\n".utf8)),
        ("bare LF", Array("GET /openrtb2/auction HTTP/1.1\nHost: x\n\n".utf8)),
        ("NUL byte", Array("GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        ("Content-Length and Transfer-Encoding",
         Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8)),
        ("negative length", Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".utf8)),
        ("huge length", Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n".utf8)),
        ("bad chunk size", Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n".utf8)),
        ("HTTP/2 preface", Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)),
        ("TLS ClientHello", [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03] + (0..<32).map { UInt8($0) }),
    ]

    /// One attempt against the tee on `port`; `attempt` numbers it (variants take turns).
    /// `goodStatus` is what the tee answers a good request (the proxy's upstream, or the mirror's 204).
    func attempt(port: Int, limits: TeeClientLimits, number attempt: Int, goodStatus: Int) -> AttemptOutcome {
        let connection: RawConnection
        do {
            connection = try RawConnection(port: port)
        } catch {
            return .wrong("\(self): cannot connect: \(error)")
        }
        switch self {
        case .slowloris:
            let head = Array("POST /openrtb2/auction HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
            var sent = 0
            while Date().timeIntervalSince(connection.opened) < limits.headerTimeout + TeeClientLimits.slack {
                guard connection.send([sent < head.count ? head[sent] : UInt8(ascii: "a")]) else { break }
                sent += 1
                if let reply = connection.receive(timeout: 0.2) {
                    return judge(connection, first: reply, sentAt: connection.opened, status: 408, after: limits.headerTimeout, limits: limits)
                }
            }
            return judge(connection, first: connection.receive(timeout: 0) ?? [], sentAt: connection.opened, status: 408, after: limits.headerTimeout, limits: limits)
        case .stalledBody:
            connection.send("POST /openrtb2/auction HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"id\":\"st")
            return answer(connection, status: 408, after: limits.bodyTimeout, limits: limits)
        case .headFlood:
            connection.send("GET /openrtb2/auction HTTP/1.1\r\nHost: x\r\nX-Flood: " + String(repeating: "a", count: limits.maxHeaderBytes + 1000))
            return answer(connection, status: 431, after: 0, limits: limits)
        case .fieldFlood:
            let fields = (0...limits.maxHeaderCount).map { "X-Field-\($0): v\r\n" }.joined()
            connection.send("GET /openrtb2/auction HTTP/1.1\r\nHost: x\r\n" + fields)
            return answer(connection, status: 431, after: 0, limits: limits)
        case .oversizedBody:
            let chunk = String(repeating: "b", count: 16 << 10)
            if attempt % 2 == 0 {
                connection.send("POST /openrtb2/auction HTTP/1.1\r\nHost: x\r\nContent-Length: \(limits.maxBodyBytes * 100)\r\n\r\n" + chunk)
            } else {
                let chunks = String(repeating: "4000\r\n\(chunk)\r\n", count: limits.maxBodyBytes / chunk.utf8.count + 1)
                connection.send("POST /openrtb2/auction HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
            }
            return answer(connection, status: 413, after: 0, limits: limits)
        case .invalid:
            connection.send(Self.invalidRequests[attempt % Self.invalidRequests.count].bytes)
            return answer(connection, status: 400, after: 0, limits: limits)
        case .idleKeepAlive:
            let sentAt = Date()
            connection.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            guard let response = connection.readResponse(timeout: 5) else {
                return judge(connection, first: [], sentAt: sentAt, status: goodStatus, after: 0, limits: limits)
            }
            guard response.status == goodStatus else { return .wrong("\(self): answered \(response.status)") }
            // The tee answered after `sentAt`: its idle time began later than that.
            let (bytes, closed) = connection.readUntilClosed(timeout: limits.idleTimeout + 2 * TeeClientLimits.slack)
            let sinceSent = Date().timeIntervalSince(sentAt)
            guard closed, bytes.isEmpty, sinceSent >= limits.idleTimeout, sinceSent <= limits.idleTimeout + TeeClientLimits.slack else {
                return .wrong("\(self): closed \(closed) \(sinceSent) s after its request, with \(bytes.count) more bytes")
            }
            return .answered
        }
    }

    /// Waits for the answer to what was just sent.
    private func answer(_ connection: RawConnection, status: Int, after delay: Double, limits: TeeClientLimits) -> AttemptOutcome {
        let sentAt = Date()
        let first = connection.receive(timeout: delay + limits.headerTimeout + TeeClientLimits.slack) ?? []
        return judge(connection, first: first, sentAt: sentAt, status: status, after: delay, limits: limits)
    }

    /// Checks that `first` (bytes that just came, empty: closed) starts the `status` answer,
    /// `delay` seconds after `sentAt` (give or take the slack), and that the connection then closes.
    private func judge(
        _ connection: RawConnection, first: [UInt8], sentAt: Date, status: Int, after delay: Double, limits: TeeClientLimits
    ) -> AttemptOutcome {
        let elapsed = Date().timeIntervalSince(sentAt)
        let (rest, closed) = connection.readUntilClosed(timeout: TeeClientLimits.slack + 1)
        let reply = first + rest
        // Closed without a word before its own timeout could have run out: refused at accept.
        if reply.isEmpty && closed && (delay == 0 || elapsed < delay - 0.05) { return .refusedAtLimit }
        let statusLine = String(decoding: reply.prefix { $0 != 0x0D }, as: UTF8.self)
        guard statusLine.hasPrefix("HTTP/1.1 \(status) ") else { return .wrong("\(self): answered '\(statusLine)' after \(elapsed) s") }
        guard elapsed >= delay - 0.05, elapsed <= delay + TeeClientLimits.slack else {
            return .wrong("\(self): answered \(status) after \(elapsed) s, expected \(delay) s")
        }
        guard closed else { return .wrong("\(self): the connection stayed open after \(status)") }
        return .answered
    }

    /// Opens `count` connections that never send a byte and waits until the tee has closed them
    /// all: returns how many were closed after `--header-timeout` and how many at once (refused
    /// at `--max-connections`), and what went wrong.
    ///
    /// A refusal closes a connection as the tee accepts it, which on a loaded machine can be well
    /// after `connect` returned; but no connection can be closed idle before `--header-timeout`
    /// has passed since the flood began.
    static func idleFlood(port: Int, count: Int, limits: TeeClientLimits) -> (idleClosed: Int, refused: Int, wrong: [String]) {
        let started = Date()
        var connections: [RawConnection] = []
        var wrong: [String] = []
        for _ in 0..<count {
            do {
                connections.append(try RawConnection(port: port))
            } catch {
                wrong.append("idle flood: cannot connect: \(error)")
            }
        }
        var idleClosed = 0, refused = 0
        let closes = RawConnection.closes(of: connections, timeout: limits.headerTimeout + 2 * TeeClientLimits.slack)
        for (connection, (after, gotBytes)) in zip(connections, closes) {
            guard let after, !gotBytes else {
                wrong.append("idle flood: \(gotBytes ? "bytes came" : "still open")")
                continue
            }
            let sinceStart = connection.opened.timeIntervalSince(started) + after
            if sinceStart < limits.headerTimeout - 0.05 {
                refused += 1
            } else if after >= limits.headerTimeout - 0.05 && after <= limits.headerTimeout + 2 * TeeClientLimits.slack {
                idleClosed += 1
            } else {
                wrong.append("idle flood: closed after \(after) s")
            }
        }
        return (idleClosed, refused, wrong)
    }
}

/// Hostile clients, each kind on a thread of its own (they block), attempting again and again,
/// 100 ms apart, until stopped.
final class HostileClientRun: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [(HostileClient, AttemptOutcome)] = []
    private var stopped = false
    private let group = DispatchGroup()

    init(_ kinds: [HostileClient], port: Int, limits: TeeClientLimits, goodStatus: Int) {
        for kind in kinds {
            group.enter()
            Thread { [self] in
                var attempt = 0
                while !lock.withLock({ stopped }) {
                    let outcome = kind.attempt(port: port, limits: limits, number: attempt, goodStatus: goodStatus)
                    lock.withLock { outcomes.append((kind, outcome)) }
                    attempt += 1
                    usleep(100_000)
                }
                group.leave()
            }.start()
        }
    }

    /// Stops after the attempts under way, and returns every attempt's outcome.
    func stop() -> [(HostileClient, AttemptOutcome)] {
        lock.withLock { stopped = true }
        group.wait()
        return lock.withLock { outcomes }
    }
}
