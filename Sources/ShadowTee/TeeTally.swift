import Foundation
import Synchronization
import NIOCore
import ShadowCore
import ShadowHTTP1

/// Counters a tee session keeps while it runs; safe from any thread.
///
/// Names are the stored counter names: `requests` (complete requests read from clients),
/// `forwarded` (handed to the upstream pool; those it could not connect for are also `upstream_errors`), `responses` (production responses passed back), `recorded`
/// (handed to the store), `client_connections`, `upstream_connections`, `upstream_retries`,
/// `upstream_errors` (answered 502), `upstream_timeouts` (answered 504), `upstream_failed_midway`
/// (the upstream failed after its response had begun; the client connection was closed),
/// `redacted_headers`, `original_uri` (mirror targets taken from `--original-uri-header`),
/// `idle_timeouts` (client connections closed for saying nothing in time), and the `DropReason`s of
/// what was not recorded.
public final class TeeTally: @unchecked Sendable {
    /// The counters every request moves, kept apart from the locked dictionary: an event loop
    /// touches them several times per request.
    public enum Hot: String, CaseIterable, Sendable {
        case requests, forwarded, responses, recorded
    }

    private let lock = NSLock()
    private var counters = Counters()
    private let requests = Atomic<Int64>(0)
    private let forwarded = Atomic<Int64>(0)
    private let responses = Atomic<Int64>(0)
    private let recorded = Atomic<Int64>(0)
    private let inFlightCount = Atomic<Int>(0)
    private var openCount = 0

    public init() {}

    public func add(_ key: String, _ n: Int64 = 1) {
        lock.lock()
        counters.add(key, n)
        lock.unlock()
    }

    public func add(_ reason: DropReason, _ n: Int64 = 1) {
        add(reason.rawValue, n)
    }

    public func add(_ counter: Hot, _ n: Int64 = 1) {
        switch counter {
        case .requests: requests.add(n, ordering: .relaxed)
        case .forwarded: forwarded.add(n, ordering: .relaxed)
        case .responses: responses.add(n, ordering: .relaxed)
        case .recorded: recorded.add(n, ordering: .relaxed)
        }
    }

    private func value(_ counter: Hot) -> Int64 {
        switch counter {
        case .requests: requests.load(ordering: .relaxed)
        case .forwarded: forwarded.load(ordering: .relaxed)
        case .responses: responses.load(ordering: .relaxed)
        case .recorded: recorded.load(ordering: .relaxed)
        }
    }

    /// Requests forwarded and not yet answered.
    public var inFlight: Int { inFlightCount.load(ordering: .relaxed) }

    /// Client connections open now.
    public var openConnections: Int {
        lock.lock()
        defer { lock.unlock() }
        return openCount
    }

    /// Takes one of `limit` client connection slots; false (counted `connection_limit`) when none is free.
    func openConnection(limit: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard openCount < limit else {
            counters.add(DropReason.connectionLimit.rawValue)
            return false
        }
        openCount += 1
        return true
    }

    func closeConnection() {
        lock.lock()
        openCount -= 1
        lock.unlock()
    }

    func began() {
        inFlightCount.add(1, ordering: .relaxed)
        add(.forwarded)
    }

    func ended() {
        inFlightCount.subtract(1, ordering: .relaxed)
    }

    public var snapshot: Counters {
        lock.lock()
        var snapshot = counters
        lock.unlock()
        for counter in Hot.allCases {
            let n = value(counter)
            if n > 0 { snapshot.add(counter.rawValue, n) }
        }
        return snapshot
    }
}
