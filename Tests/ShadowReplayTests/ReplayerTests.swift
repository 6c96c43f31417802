import Foundation
import GRDB
import NIOCore
import NIOPosix
import ShadowCore
import ShadowStore
import Testing

@testable import ShadowReplay

/// Replays to real loopback servers and reads what was stored. Timing bounds are generous: the
/// suite shares 2 cores with other tests.
@Suite(.serialized) struct ReplayerTests {
    private func replay(
        _ db: ShadowDatabase, _ configuration: ReplayConfiguration, stop: StopFlag = StopFlag(), observer: (any ReplayObserver)? = nil
    ) async throws -> ReplayOutcome {
        try await Replayer(database: db, configuration: configuration).run(stop: stop, observer: observer)
    }

    /// `replay`, and the seconds it took.
    private func timedReplay(_ db: ShadowDatabase, _ configuration: ReplayConfiguration) async throws -> (ReplayOutcome, TimeInterval) {
        let start = Date()
        let outcome = try await replay(db, configuration)
        return (outcome, Date().timeIntervalSince(start))
    }

    @Test func closedLoopSendsEveryRequestToBothSidesOverKeepAlive() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                try await withTestTarget { b in
                    let db = try makeCapture(dir, paths: (0..<50).map { $0 % 10 == 9 ? "/close" : "/echo/\($0)" })
                    let config = ReplayConfiguration(
                        run: "c", baseline: try target(.baseline, a), candidate: try target(.candidate, b), timing: .concurrency(4))
                    let outcome = try await replay(db, config)
                    #expect(outcome.run.status == "complete")
                    #expect(outcome.run.counters["exchanges"] == 50)
                    let rows = try storedResults(db, run: "c")
                    #expect(rows.count == 100)
                    #expect(rows.allSatisfy { $0.status == 200 && $0.error == nil })
                    let first = rows.first { $0.exchangeID == 1 && $0.side == "candidate" }
                    #expect(first?.body == Array("request 0".utf8))
                    #expect(first?.headers?.contains("X-Host: 127.0.0.1:\(b)") == true)
                    #expect(rows.allSatisfy { ($0.latencyNs ?? 0) > 0 && $0.sendLagNs == 0 || ($0.sendLagNs ?? -1) >= 0 })
                }
            }
        }
    }

    @Test func openLoopKeepsTheScheduleAndMeasuresFromIt() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                try await withTestTarget { b in
                    let db = try makeCapture(dir, paths: Array(repeating: "/echo", count: 200))
                    let config = ReplayConfiguration(
                        run: "r", baseline: try target(.baseline, a), candidate: try target(.candidate, b), timing: .rate(400),
                        connections: 8)
                    let (outcome, elapsed) = try await timedReplay(db, config)
                    #expect(elapsed > 0.45 && elapsed < 3, "200 requests at 400/s take about 0.5 s")
                    let rows = try storedResults(db, run: "r").filter { $0.side == "baseline" }
                    #expect(rows.map(\.scheduledNs) == (0..<200).map { Int64($0) * 2_500_000 })
                    let lags = rows.compactMap(\.sendLagNs).sorted()
                    #expect(lags.count == 200 && lags[0] >= 0)
                    #expect(lags[100] < 1_000_000, "median send lag \(lags[100]) ns")
                    // Latency counts from the intended send time: never less than the service time.
                    #expect(rows.allSatisfy { ($0.latencyNs ?? 0) >= ($0.serviceNs ?? 0) })
                    #expect(outcome.progress.late == 0 || lags[199] > 0)
                }
            }
        }
    }

    @Test func speedFollowsTheCapturedGaps() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let times: [Int64] = [0, 100_000_000, 300_000_000]
                let db = try makeCapture(dir, paths: ["/a", "/b", "/c"], captureTimes: times)
                let config = ReplayConfiguration(
                    run: "s", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .speed(2))
                _ = try await replay(db, config)
                let rows = try storedResults(db, run: "s").filter { $0.side == "baseline" }
                #expect(rows.map(\.scheduledNs) == [0, 50_000_000, 150_000_000])
                #expect(rows.allSatisfy { ($0.sendLagNs ?? .max) < 20_000_000 })
            }
        }
    }

    @Test func sidesAreSentInASeededRandomOrder() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/echo", count: 200))
                var orders: [[Bool]] = []
                for run in ["o1", "o2"] {
                    let config = ReplayConfiguration(
                        run: run, baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(2),
                        seed: 7)
                    _ = try await replay(db, config)
                    let rows = try storedResults(db, run: run)
                    let byExchange = Dictionary(grouping: rows, by: \.exchangeID)
                    orders.append(byExchange.keys.sorted().map { id in
                        let sides = byExchange[id]!
                        let b = sides.first { $0.side == "baseline" }!, c = sides.first { $0.side == "candidate" }!
                        return (b.latencyNs! - b.serviceNs!) <= (c.latencyNs! - c.serviceNs!)
                    })
                }
                let baselineFirst = orders[0].filter { $0 }.count
                #expect(baselineFirst > 60 && baselineFirst < 140, "baseline first in \(baselineFirst) of 200")
                let items = RequestFeedOrder.orders(seed: 7, ids: 1...200)
                #expect(items == RequestFeedOrder.orders(seed: 7, ids: 1...200))
                #expect(items != RequestFeedOrder.orders(seed: 8, ids: 1...200))
            }
        }
    }

    @Test func everyFaultIsRecordedWithItsKindAndTheRunGoesOn() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: ["/echo", "/stall", "/reset", "/garbage", "/big", "/echo"])
                let config = ReplayConfiguration(
                    run: "f", baseline: try target(.baseline, a), candidate: try target(.candidate, a),
                    timing: .concurrency(2), timeoutMs: 300, maxBodyBytes: 1000)
                let outcome = try await replay(db, config)
                #expect(outcome.run.status == "complete")
                let rows = try storedResults(db, run: "f")
                let baseline = Dictionary(uniqueKeysWithValues: rows.filter { $0.side == "baseline" }.map { ($0.exchangeID, $0) })
                #expect(baseline[1]?.status == 200)
                #expect(baseline[2]?.error == "timeout")
                #expect(baseline[3]?.error == "incomplete_response", "/reset closes (FIN) before any byte, on the retry's fresh connection too")
                #expect(baseline[4]?.error == "invalid_response")
                #expect(baseline[5]?.error == "body_too_large")
                #expect(baseline[6]?.status == 200)
                #expect(outcome.run.counters["error_baseline_timeout"] == 1)
                // The /reset retry set its connection up on the request's clock; every failed
                // connection was replaced before its lane took the next request.
                #expect(outcome.run.counters["reconnect_baseline"] == 1)
                #expect(outcome.run.counters["reconnect_between_baseline"] >= 3)
            }
        }
    }

    /// Lanes are made ready before the clock: a target nobody listens on ends the run before it
    /// starts, saying which side and how many connections, and stores nothing.
    @Test func aTargetThatRefusesConnectionsEndsTheRunBeforeItStarts() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: ["/echo", "/echo"])
                let refused = try closedPort()
                let config = ReplayConfiguration(
                    run: "r", baseline: try target(.baseline, a), candidate: try target(.candidate, a),
                    secondary: try target(.secondary, refused), timing: .concurrency(2))
                await #expect {
                    _ = try await replay(db, config)
                } throws: { error in
                    guard case .targetUnreachable(let url, let detail) = error as? ShadowError else { return false }
                    return url.hasSuffix(":\(refused)") && detail.hasPrefix("2 of 2 connections could not be made ready")
                }
                #expect(try storedResults(db, run: "r").isEmpty)
                let run = try db.run(named: "r")
                #expect(run.status == "failed")
                #expect(run.counters["connect_failed_secondary"] == 6, "3 attempts for each of 2 lanes")
            }
        }
    }

    /// Connections made and proven before the clock: every request's latency is its own. Against
    /// a target that closes the connection after every answer, each lane sets up its next
    /// connection before it takes its next request, so no request is marked `reconnect`.
    @Test func connectionsAreReadyBeforeTheClockAndReplacedBetweenRequests() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/close", count: 40))
                let config = ReplayConfiguration(
                    run: "c", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(4))
                let outcome = try await replay(db, config)
                #expect(outcome.run.status == "complete")
                #expect(outcome.connections.map(\.ready) == [4, 4] && outcome.connections.map(\.proven) == [4, 4])
                #expect(outcome.connections.allSatisfy { $0.closesConnections })
                let rows = try storedResults(db, run: "c")
                #expect(rows.count == 80 && rows.allSatisfy { $0.status == 200 })
                #expect(outcome.run.counters["reconnect_baseline"] == 0 && outcome.run.counters["reconnect_candidate"] == 0)
                #expect(outcome.run.counters["reconnect_between_baseline"] == 40)
            }
        }
    }

    @Test func theTimeoutCountsFromEachRequestsOwnWriteOnAKeptAliveConnection() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                // One connection per side: the second request is still within its own timeout when
                // the first one's would have run out; the third is not.
                let db = try makeCapture(dir, paths: ["/slow/100", "/slow/200", "/slow/600"])
                let config = ReplayConfiguration(
                    run: "t", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(1),
                    timeoutMs: 250)
                let outcome = try await replay(db, config)
                #expect(outcome.run.status == "complete")
                let rows = try storedResults(db, run: "t").filter { $0.side == "baseline" }
                #expect(rows.map(\.status) == [200, 200, nil])
                #expect(rows.map(\.error) == [nil, nil, "timeout"])
                #expect((rows[1].serviceNs ?? 0) >= 200_000_000)
            }
        }
    }

    @Test func aTargetThatIsDownEndsTheRunAfterTheFailureLimit() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                // The candidate's every request is reset before any byte (on its retry too); its
                // connections are made, unproven, before the clock.
                let db = try makeCapture(dir, paths: Array(repeating: "/echo", count: 500))
                let config = ReplayConfiguration(
                    run: "d", baseline: try target(.baseline, a), candidate: try target(.candidate, a, "/reset"),
                    timing: .concurrency(2), maxFailures: 20, probe: .none)
                await #expect {
                    _ = try await replay(db, config)
                } throws: { error in
                    guard case .targetDown(_, let failures, _) = error as? ShadowError else { return false }
                    return failures >= 20
                }
                let stored = try storedResults(db, run: "d").count
                #expect(stored >= 40 && stored < 1000)
                #expect(try db.run(named: "d").status == "failed")
            }
        }
    }

    @Test func aSlowTargetGetsBackpressureNotUnboundedQueues() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/slow/20", count: 100))
                let config = ReplayConfiguration(
                    run: "bp", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .rate(1000),
                    connections: 2)
                let outcome = try await replay(db, config)
                let rows = try storedResults(db, run: "bp")
                #expect(rows.count == 200 && rows.allSatisfy { $0.status == 200 })
                // Two lanes at 20 ms each serve 100/s: most of 1000/s must wait, and say how long.
                #expect(outcome.progress.late > 80)
                #expect(outcome.run.counters["late_requests"] == outcome.progress.late)
                #expect(outcome.progress.lateStoreBehind == 0 && outcome.run.counters["late_store_behind"] == 0)
                let worst = rows.compactMap(\.sendLagNs).max() ?? 0
                #expect(worst > 500_000_000, "the last request waited about 1 s for a lane, got \(worst) ns")
                #expect(rows.allSatisfy { ($0.latencyNs ?? 0) >= ($0.serviceNs ?? 0) + ($0.sendLagNs ?? 0) - 1 })
            }
        }
    }

    @Test func aStoreThatFallsBehindHoldsTheDispatcherAndLosesNothing() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/echo", count: 2000))
                let config = ReplayConfiguration(
                    run: "sb", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(16))
                // The recorder waits on the lock (within its busy timeout) while the lanes keep finishing.
                let outcome = try await replayHoldingTheStore(db, config, dir: dir, seconds: 0.5)
                #expect(outcome.run.counters["result_queue_full"] == 0)
                #expect(try storedResults(db, run: "sb").count == 4000)
            }
        }
    }

    /// Requests an open loop holds back for the store are late for the store, not for want of a lane.
    @Test func anOpenLoopSaysWhichRequestsTheStoreHeldBack() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/echo", count: 600))
                let config = ReplayConfiguration(
                    run: "ol", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .rate(2000))
                let outcome = try await replayHoldingTheStore(db, config, dir: dir, seconds: 0.3)
                #expect(outcome.progress.lateStoreBehind > 50, "0.3 s of 2000/s held behind the store: \(outcome.progress.lateStoreBehind)")
                #expect(outcome.progress.late >= outcome.progress.lateStoreBehind)
                #expect(outcome.run.counters["late_store_behind"] == outcome.progress.lateStoreBehind)
                #expect(outcome.run.counters["late_requests"] == outcome.progress.late)
                let stored = try storedResults(db, run: "ol").count
                #expect(stored == 1200 && outcome.run.counters["result_queue_full"] == 0, "stored \(stored), counters \(outcome.run.counters.values)")
            }
        }
    }

    /// Replays with a store backlog of one record while, once results flow, another connection
    /// holds SQLite's write lock for `seconds`.
    private func replayHoldingTheStore(
        _ db: ShadowDatabase, _ config: ReplayConfiguration, dir: String, seconds: Double
    ) async throws -> ReplayOutcome {
        let holder = LockHolder(path: dir + "/replay.db", seconds: seconds)
        let outcome = try await Replayer(
            database: db, configuration: config, group: MultiThreadedEventLoopGroup.singleton, storeBacklog: 1
        ).run(observer: holder)
        #expect(holder.held)
        return outcome
    }

    /// A closed loop takes its next request as a lane frees up: past the duration it takes none,
    /// however many requests wait on the board for a slow target.
    @Test func aClosedLoopEndsAtItsDurationEvenAgainstASlowTarget() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/slow/100", count: 400))
                let config = ReplayConfiguration(
                    run: "d", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(2),
                    durationSeconds: 0.5)
                let (outcome, elapsed) = try await timedReplay(db, config)
                #expect(outcome.run.status == "complete")
                #expect(elapsed < 2, "0.5 s and the answers in flight, not the \(Replayer.closedLoopReady) waiting: \(elapsed) s")
                let pairs = try storedResults(db, run: "d").count / 2
                #expect(pairs >= 4 && pairs <= 16, "2 lanes at about 100 ms each for 0.5 s: \(pairs)")
            }
        }
    }

    @Test func resumeContinuesWithoutSendingTwice() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/slow/2", count: 120))
                let config = ReplayConfiguration(
                    run: "i", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(2))
                let stop = StopFlag()
                let first = try await replay(db, config, stop: stop, observer: StopAfter(count: 30, flag: stop))
                #expect(first.stoppedEarly && first.run.status == "interrupted")
                let partial = try storedResults(db, run: "i").count
                #expect(partial >= 60 && partial < 240)
                let resumed = try await Replayer(database: db, configuration: config).run(resuming: first.run)
                #expect(resumed.run.status == "complete")
                let rows = try storedResults(db, run: "i")
                #expect(rows.count == 240)
                #expect(Set(rows.map { "\($0.exchangeID)/\($0.side)" }).count == 240)
                #expect(resumed.run.counters["resumed_skipped"] == Int64(partial / 2))
                #expect(resumed.run.counters["exchanges"] == 120)
            }
        }
    }

    @Test func loopWarmupAndLimit() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: ["/a", "/b", "/c"])
                let config = ReplayConfiguration(
                    run: "l", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .concurrency(1),
                    limit: 8, loop: true, warmup: 2)
                let outcome = try await replay(db, config)
                let rows = try storedResults(db, run: "l").filter { $0.side == "baseline" }
                #expect(rows.map(\.pass) == [0, 0, 0, 1, 1, 1, 2, 2])
                #expect(rows.filter(\.warmup).count == 2)
                #expect(outcome.progress.sides[0].sent == 6)
                var replayed = 0
                try db.scanResults(runID: outcome.run.id) { _ in replayed += 1 }
                #expect(replayed == 6)
            }
        }
    }

    @Test func progressCallsCarryEachSidesP99AndTheLastOneEveryFigure() async throws {
        final class Calls: @unchecked Sendable {
            let lock = NSLock()
            var all: [ReplayProgress] = []
        }
        try await withTemporaryDirectory { dir in
            try await withTestTarget { a in
                let db = try makeCapture(dir, paths: Array(repeating: "/echo", count: 60))
                let config = ReplayConfiguration(
                    run: "p", baseline: try target(.baseline, a), candidate: try target(.candidate, a), timing: .rate(100),
                    connections: 2)
                let calls = Calls()
                _ = try await Replayer(database: db, configuration: config).run(progressInterval: 0.05) { progress in
                    calls.lock.withLock { calls.all.append(progress) }
                }
                let all = calls.lock.withLock { calls.all }
                let periodic = all.dropLast().filter { $0.sides[0].latency.count > 0 }
                #expect(periodic.count >= 3, "0.6 s of replay, a call every 0.05 s")
                #expect(periodic.allSatisfy { p in p.sides.allSatisfy { $0.latency.p99 != nil && $0.latency.p50 == nil && $0.service.p99 == nil } })
                let last = try #require(all.last)
                #expect(last.done == 60)
                #expect(last.sides.allSatisfy { $0.latency.p50 != nil && $0.latency.max != nil && $0.service.p99 != nil })
                #expect(last.lag.p50 != nil)
            }
        }
    }

    @Test func aLoopSendsLaterPassesFromTheFirstPassEncodingAsTheStoreWould() async throws {
        try await withTemporaryDirectory { dir in
            let db = try makeCapture(dir, paths: (0..<7).map { "/p/\($0)?q=\($0)" })
            let config = ReplayConfiguration(
                run: "f", baseline: try target(.baseline, 1), candidate: try target(.candidate, 2), timing: .concurrency(1),
                limit: 30, loop: true, selection: RequestSelection(filter: RequestFilter(excludedPathPrefixes: ["/p/3"])))
            func items(cacheBytes: Int) -> [ReplayItem] {
                let feed = RequestFeed(database: db, configuration: config, resumeRunID: nil, passCacheBytes: cacheBytes)
                feed.start()
                var all: [ReplayItem] = []
                while let item = feed.queue.pop() { all.append(item) }
                return all
            }
            let cached = items(cacheBytes: 1 << 20)
            let streamed = items(cacheBytes: 0)
            #expect(cached.count == 30)
            #expect(cached.map(\.pass) == (0..<30).map { $0 / 6 })
            #expect(!cached.contains { $0.exchangeID == 4 })
            for (a, b) in zip(cached, streamed) {
                #expect(a.exchangeID == b.exchangeID && a.pass == b.pass && a.requests == b.requests)
                #expect(a.order == RequestFeed.sideOrder(seed: config.seed, exchangeID: a.exchangeID, pass: a.pass, sides: 2))
                #expect(a.order == b.order)
            }
            #expect(Set(cached.map(\.order)).count == 2)
        }
    }
}

/// On the first stored request, holds SQLite's write lock from another connection for a while.
final class LockHolder: ReplayObserver, @unchecked Sendable {
    private let path: String
    private let seconds: Double
    private let lock = NSLock()
    private var started = false
    private var done = false

    init(path: String, seconds: Double) {
        self.path = path
        self.seconds = seconds
    }

    var held: Bool { lock.withLock { done } }

    func recorded(side: Side, status: Int?, error: ReplayErrorKind?, latencyNs: Int64?, serviceNs: Int64?) {}

    func sent(lagNs: Int64, late: Bool) {
        guard lock.withLock({ () -> Bool in
            defer { started = true }
            return !started
        }) else { return }
        let ready = DispatchSemaphore(value: 0)
        Thread { [self] in
            do {
                let queue = try DatabaseQueue(path: path)
                try queue.inDatabase { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    ready.signal()
                    Thread.sleep(forTimeInterval: seconds)
                    try db.execute(sql: "COMMIT")
                }
                lock.withLock { done = true }
            } catch {
                ready.signal()
            }
        }.start()
        ready.wait()
    }
}

/// Raises `flag` once `count` requests are stored.
final class StopAfter: ReplayObserver, @unchecked Sendable {
    private let count: Int
    private let flag: StopFlag
    private let lock = NSLock()
    private var seen = 0

    init(count: Int, flag: StopFlag) {
        self.count = count
        self.flag = flag
    }

    func recorded(side: Side, status: Int?, error: ReplayErrorKind?, latencyNs: Int64?, serviceNs: Int64?) {}

    func sent(lagNs: Int64, late: Bool) {
        lock.withLock { seen += 1 }
        if lock.withLock({ seen }) >= count { flag.raise() }
    }
}

/// The feed's per-request side order, for a seed.
enum RequestFeedOrder {
    static func orders(seed: UInt64, ids: ClosedRange<Int64>) -> [[Int]] {
        ids.map { id in RequestFeed.sideOrder(seed: seed, exchangeID: id, pass: 0, sides: 2) }
    }
}
