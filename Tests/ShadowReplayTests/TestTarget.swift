import Foundation
import GRDB
import NIOCore
import NIOPosix
import ShadowCore
@testable import ShadowStore

@testable import ShadowReplay

/// A loopback HTTP/1.1 target for replay tests, on raw bytes so that it can misbehave.
///
/// Paths: `/stall` never answers; `/close` answers with `Connection: close`; `/slow/N` answers
/// after N ms; `/garbage` sends bytes that are not HTTP; `/reset` closes (FIN) without answering;
/// `/big` sends a 64 KiB body; anything else echoes the body with `X-Host` and `X-Path`.
final class TestTargetHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var buffer = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        buffer.writeBuffer(&input)
        while let request = takeRequest() { answer(request, context: context) }
    }

    private func takeRequest() -> (path: String, host: String, body: [UInt8])? {
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<end.lowerBound]
        let lines = head.components(separatedBy: "\r\n")
        var length = 0
        var host = ""
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0].lowercased() == "content-length" { length = Int(parts[1]) ?? 0 }
            if parts[0].lowercased() == "host" { host = parts[1] }
        }
        let headBytes = text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound)
        guard buffer.readableBytes >= headBytes + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headBytes)
        let body = buffer.readBytes(length: length) ?? []
        buffer.discardReadBytes()
        let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        return (path, host, body)
    }

    private func answer(_ request: (path: String, host: String, body: [UInt8]), context: ChannelHandlerContext) {
        let path = request.path
        if path.hasPrefix("/reset") {
            context.close(promise: nil)
            return
        }
        switch path {
        case "/stall": return
        case "/garbage":
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "THIS IS NOT HTTP\r\n\r\n")), promise: nil)
            return
        default: break
        }
        var body = request.body
        if path == "/big" { body = Array(repeating: UInt8(ascii: "x"), count: 64 << 10) }
        var head = "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nX-Host: \(request.host)\r\nX-Path: \(path)\r\n"
        if path == "/close" { head += "Connection: close\r\n" }
        var out = ByteBuffer(string: head + "\r\n")
        out.writeBytes(body)
        let close = path == "/close"
        let response = out
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let write: @Sendable () -> Void = {
            let context = bound.value
            context.writeAndFlush(NIOAny(response)).whenComplete { _ in if close { bound.value.close(promise: nil) } }
        }
        if path.hasPrefix("/slow/"), let ms = Int64(path.dropFirst("/slow/".count)) {
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) { write() }
        } else {
            write()
        }
    }
}

/// Runs `body` with the port of a fresh `TestTargetHandler` server; closes it afterwards.
func withTestTarget<T>(_ body: (Int) async throws -> T) async throws -> T {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(TestTargetHandler()) }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    do {
        let result = try await body(channel.localAddress!.port!)
        try await channel.close()
        return result
    } catch {
        try? await channel.close()
        throw error
    }
}

/// A port nothing listens on.
func closedPort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress!.port!
    try channel.close().wait()
    return port
}

/// A database in a fresh directory holding `paths.count` POST exchanges, the n-th captured at
/// `captureTimes[n]` (ns) when given.
func makeCapture(_ dir: String, paths: [String], captureTimes: [Int64]? = nil) throws -> ShadowDatabase {
    let db = try ShadowDatabase(path: dir + "/replay.db", mode: .createIfMissing)
    let capture = try db.beginCapture(sourceKind: "pcap", source: "test.pcap", filter: nil)
    let writer = ExchangeWriter(database: db, captureID: capture)
    for (n, path) in paths.enumerated() {
        let request = RecordedRequest(
            method: "POST", target: path, headers: [HeaderField("Host", "prod.example"), HeaderField("X-N", "\(n)")],
            body: Array("request \(n)".utf8))
        try writer.append(CapturedExchange(
            captureTimeNs: captureTimes?[n] ?? Int64(n) * 1_000_000, connection: 1, client: "10.0.0.1:5000",
            server: "10.0.0.2:80", wireProtocol: .http1, request: request, response: nil, productionLatencyNs: nil))
    }
    try writer.flush()
    return db
}

func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir)
}

/// One stored result row, as the tests read it back.
struct StoredResult {
    var pass: Int
    var exchangeID: Int64
    var side: String
    var status: Int?
    var latencyNs: Int64?
    var serviceNs: Int64?
    var sendLagNs: Int64?
    var scheduledNs: Int64?
    var error: String?
    var warmup: Bool
    var headers: String?
    var body: [UInt8]?
}

func storedResults(_ db: ShadowDatabase, run: String) throws -> [StoredResult] {
    try db.pool.read { conn in
        try Row.fetchAll(conn, sql: """
            SELECT r.*, b.headers, b.body FROM results r JOIN result_bodies b USING (run_id, pass, exchange_id, side)
            JOIN runs ON runs.id = r.run_id WHERE runs.name = ? ORDER BY r.pass, r.exchange_id, r.side
            """, arguments: [run]).map { row in
            StoredResult(
                pass: row["pass"], exchangeID: row["exchange_id"], side: row["side"], status: row["status"],
                latencyNs: row["latency_ns"], serviceNs: row["service_ns"], sendLagNs: row["send_lag_ns"],
                scheduledNs: row["scheduled_ns"], error: row["error"], warmup: row["warmup"] == 1, headers: row["headers"],
                body: (row["body"] as Data?).map { [UInt8]($0) })
        }
    }
}

func target(_ side: Side, _ port: Int, _ prefix: String = "") throws -> ReplayTarget {
    try ReplayTarget(side: side, url: "http://127.0.0.1:\(port)\(prefix)", flag: "--\(side.rawValue)")
}
