import Foundation
import ShadowCore

/// Counters a tee session keeps while it runs; safe from any thread.
///
/// Names are the stored counter names: `requests` (complete requests read from clients),
/// `forwarded` (handed to the upstream pool; those it could not connect for are also `upstream_errors`), `responses` (production responses passed back), `recorded`
/// (handed to the store), `client_connections`, `upstream_connections`, `upstream_retries`,
/// `upstream_errors` (answered 502), `upstream_timeouts` (answered 504), `upstream_failed_midway`
/// (the upstream failed after its response had begun; the client connection was closed),
/// `redacted_headers`, `original_uri` (mirror targets taken from `--original-uri-header`), and
/// the `DropReason`s of what was not recorded.
public final class TeeTally: @unchecked Sendable {
    private let lock = NSLock()
    private var counters = Counters()
    private var inFlightCount = 0

    public init() {}

    public func add(_ key: String, _ n: Int64 = 1) {
        lock.lock()
        counters.add(key, n)
        lock.unlock()
    }

    public func add(_ reason: DropReason, _ n: Int64 = 1) {
        add(reason.rawValue, n)
    }

    /// Requests forwarded and not yet answered.
    public var inFlight: Int {
        lock.lock()
        defer { lock.unlock() }
        return inFlightCount
    }

    func began() {
        lock.lock()
        inFlightCount += 1
        counters.add("forwarded")
        lock.unlock()
    }

    func ended() {
        lock.lock()
        inFlightCount -= 1
        lock.unlock()
    }

    public var snapshot: Counters {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }
}

/// Where a tee hands the exchanges it records. Called on event loops: must never block.
public protocol ExchangeRecorder: Sendable {
    /// Takes `exchange` if it can at once; otherwise returns why it was not recorded
    /// (`record_queue_full`, `store_failed`).
    func record(_ exchange: CapturedExchange) -> DropReason?
}

extension TeeTally {
    /// Hands `exchange` to `recorder` and counts the outcome.
    func record(_ exchange: CapturedExchange, to recorder: any ExchangeRecorder) {
        if let reason = recorder.record(exchange) { add(reason) } else { add("recorded") }
    }
}
