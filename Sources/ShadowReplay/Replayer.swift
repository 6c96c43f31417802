import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ShadowCore
import ShadowStore

/// Sends every stored exchange to each target of a `ReplayConfiguration` and records what each
/// side answered in the run's results.
///
/// `concurrency` workers each own one keep-alive connection per side. A worker sends one
/// exchange to all sides at once, in a seeded random order, and waits for every side before
/// taking the next, so the sides see identical load. Failures (refused, reset, timeout, invalid
/// response) are recorded per request and the run goes on.
public struct Replayer: Sendable {
    public let database: ShadowDatabase
    public let configuration: ReplayConfiguration
    let group: EventLoopGroup

    public init(database: ShadowDatabase, configuration: ReplayConfiguration) {
        self.database = database
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup.singleton
    }

    /// Connects once to every target; throws `ShadowError.targetUnreachable` naming the first
    /// that cannot be reached.
    public func checkTargets() async throws {
        for target in configuration.targets {
            do {
                let connection = try await HTTPClientConnection.connect(
                    to: target, group: group, timeout: .milliseconds(Int64(configuration.connectTimeoutMs)))
                await connection.close()
            } catch {
                throw ShadowError.targetUnreachable(url: target.url, detail: error.kind.rawValue.replacingOccurrences(of: "_", with: " "))
            }
        }
    }

    /// Replays into a new run and returns its counters. `onProgress` is called about once a
    /// second while the run goes on, and once at the end.
    public func run(onProgress: @escaping @Sendable (ReplayProgress) -> Void = { _ in }) async throws -> RunInfo {
        let config = configuration
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let configJSON = String(decoding: try encoder.encode(config), as: UTF8.self)
        let run = try database.createRun(name: config.run, captureID: config.captureID, config: configJSON)
        var total = try database.exchangeCount(captureID: config.captureID)
        if let limit = config.limit { total = min(total, Int64(limit)) }
        let feed = ExchangeFeed(database: database, captureID: config.captureID, limit: total)
        let sink = ResultSink(writer: ResultWriter(database: database, runID: run.id), total: total)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<max(1, config.concurrency) {
                    group.addTask { try await self.work(worker: worker, feed: feed, sink: sink) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        onProgress(await sink.progress())
                    }
                }
                for _ in 0..<max(1, config.concurrency) { try await group.next() }
                group.cancelAll()
            }
            let counters = try await sink.finish()
            try database.finishRun(id: run.id, counters: counters, status: "complete")
            onProgress(await sink.progress())
        } catch {
            let counters = (try? await sink.finish()) ?? Counters()
            try? database.finishRun(id: run.id, counters: counters, status: "failed")
            throw error
        }
        return try database.run(named: run.name)
    }

    private func work(worker: Int, feed: ExchangeFeed, sink: ResultSink) async throws {
        let config = configuration
        var connections: [Side: HTTPClientConnection] = [:]
        defer {
            for connection in connections.values { connection.channel.close(promise: nil) }
        }
        while let stored = try await feed.next() {
            var rng = SplitMix64(seed: config.seed ^ UInt64(bitPattern: stored.id))
            let order = config.targets.shuffled(using: &rng)
            var results: [SideResult] = []
            await withTaskGroup(of: (SideResult, HTTPClientConnection?).self) { group in
                for target in order {
                    let connection = connections.removeValue(forKey: target.side)
                    group.addTask { await self.send(stored, to: target, over: connection) }
                }
                for await (result, connection) in group {
                    results.append(result)
                    if let connection { connections[result.side] = connection }
                }
            }
            try await sink.record(results)
        }
    }

    /// Sends one exchange to one target, reconnecting when needed. Returns the result and the
    /// connection to keep, if it is still usable.
    private func send(_ stored: StoredExchange, to target: ReplayTarget, over existing: HTTPClientConnection?) async
        -> (SideResult, HTTPClientConnection?)
    {
        let config = configuration
        let head = RequestBuilder.head(for: stored.exchange.request, to: target)
        let body = ByteBuffer(bytes: stored.exchange.request.body)
        var connection = existing
        for attempt in 0..<2 {
            let reused = connection != nil
            do {
                let live: HTTPClientConnection
                if let connection { live = connection } else {
                    live = try await HTTPClientConnection.connect(
                        to: target, group: group, timeout: .milliseconds(Int64(config.connectTimeoutMs)))
                }
                connection = live
                let timed = try await live.send(
                    head, body: body, maxBodyBytes: config.maxBodyBytes, timeout: .milliseconds(Int64(config.timeoutMs)))
                let result = SideResult(
                    exchangeID: stored.id, side: target.side, response: timed.response,
                    firstByteNs: Int64(timed.firstByteNs &- timed.sentNs), latencyNs: Int64(timed.lastByteNs &- timed.sentNs))
                return (result, live.channel.isActive ? live : nil)
            } catch {
                connection?.channel.close(promise: nil)
                connection = nil
                // A kept-alive connection the server closed while idle: try once more on a new one.
                if reused && attempt == 0 && error.kind == .connectionReset { continue }
                return (SideResult(
                    exchangeID: stored.id, side: target.side, response: nil, firstByteNs: nil, latencyNs: nil,
                    error: error.kind, errorMessage: error.message), nil)
            }
        }
        preconditionFailure("unreachable: the loop returns on its second attempt")
    }
}

/// Hands stored exchanges to workers, reading the database a page at a time.
actor ExchangeFeed {
    private let database: ShadowDatabase
    private let captureID: Int64?
    private var remaining: Int64
    private var page: [StoredExchange] = []
    private var index = 0
    private var lastID: Int64 = 0

    init(database: ShadowDatabase, captureID: Int64?, limit: Int64) {
        self.database = database
        self.captureID = captureID
        remaining = limit
    }

    func next() throws -> StoredExchange? {
        guard remaining > 0 else { return nil }
        if index == page.count {
            page = try database.exchanges(captureID: captureID, afterID: lastID, limit: 512)
            index = 0
            guard let last = page.last else { return nil }
            lastID = last.id
        }
        defer { index += 1 }
        remaining -= 1
        return page[index]
    }
}

/// Collects results from all workers into one batched writer and keeps the run's counters.
actor ResultSink {
    private let writer: ResultWriter
    private let total: Int64
    private let started = NIODeadline.now()
    private var done: Int64 = 0
    private var counters = Counters()
    private var errors: [Side: Int64] = [:]

    init(writer: ResultWriter, total: Int64) {
        self.writer = writer
        self.total = total
    }

    func record(_ results: [SideResult]) throws {
        for result in results {
            try writer.append(result)
            counters.add("sent_\(result.side.rawValue)")
            if let error = result.error {
                counters.add("error_\(result.side.rawValue)_\(error.rawValue)")
                errors[result.side, default: 0] += 1
            }
        }
        done += 1
        counters.add("exchanges")
    }

    func progress() -> ReplayProgress {
        ReplayProgress(
            done: done, total: total, elapsedNs: NIODeadline.now().uptimeNanoseconds - started.uptimeNanoseconds,
            errors: errors)
    }

    func finish() throws -> Counters {
        try writer.flush()
        return counters
    }
}
