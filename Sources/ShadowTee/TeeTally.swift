import Foundation
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
    private let lock = NSLock()
    private var counters = Counters()
    private var inFlightCount = 0
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

    /// Requests forwarded and not yet answered.
    public var inFlight: Int {
        lock.lock()
        defer { lock.unlock() }
        return inFlightCount
    }

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
    /// Takes an exchange, charged `cost` bytes, if it can at once; `build` makes its record later, on
    /// the recorder's own thread (nil: not recordable, already counted). Otherwise returns why it
    /// was not taken (`record_queue_full`, `store_failed`).
    func record(cost: Int, build: @escaping @Sendable () -> EncodedExchange?) -> DropReason?
}

/// What a tee keeps of one exchange: raw heads and bodies, parsed into a `CapturedExchange` only
/// on the recorder's thread, after the response went out.
struct TeeRecord: Sendable {
    var requestHead: ByteBuffer
    var requestBody: ByteBuffer
    /// Replaces the request's target in the record (the mirror's original URI).
    var target: String?
    var responseHead: ByteBuffer?
    var responseBody: ByteBuffer?
    var wallClockNs: Int64
    var connection: Int64
    var client: String
    var server: String
    var latencyNs: UInt64?
    var error: String?

    /// `buffer`, copied when it is a small slice of a much larger receive buffer, so that what a
    /// queued record pins stays within about twice the bytes it is charged.
    static func compact(_ buffer: ByteBuffer) -> ByteBuffer {
        guard buffer.storageCapacity > 2 * buffer.readableBytes + 4096 else { return buffer }
        var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        copy.writeImmutableBuffer(buffer)
        return copy
    }

    /// Bytes the record holds, as charged in the recorder's queue.
    var cost: Int {
        256 + requestHead.readableBytes + requestBody.readableBytes + (responseHead?.readableBytes ?? 0)
            + (responseBody?.readableBytes ?? 0)
    }

    /// The exchange as stored, with the policy's redactions (counted); nil (counted) when a head
    /// does not parse, which the tee's framing has already ruled out.
    func exchange(policy: RecordingPolicy, tally: TeeTally) -> EncodedExchange? {
        guard let request = policy.storedFields(of: requestHead, isRequest: true) else {
            tally.add(.unparsableRequest)
            return nil
        }
        var response: EncodedExchange.Response?
        var redacted = request.redacted
        if let responseHead {
            guard let parsed = policy.storedFields(of: responseHead, isRequest: false) else {
                tally.add(.unparsableResponse)
                return nil
            }
            redacted += parsed.redacted
            response = EncodedExchange.Response(
                status: parsed.head.status, headerText: parsed.text,
                body: responseBody.map { Array($0.readableBytesView) } ?? [])
        }
        if redacted > 0 { tally.add("redacted_headers", Int64(redacted)) }
        return EncodedExchange(
            captureTimeNs: wallClockNs, connection: connection, client: client, server: server,
            method: request.head.method, target: target ?? request.head.target, version: request.head.version,
            requestHeaderText: request.text, requestBody: Array(requestBody.readableBytesView),
            response: response, productionLatencyNs: latencyNs.map { Int64($0) }, productionError: error)
    }
}

extension TeeSession {
    /// Hands `record` to the recorder and counts the outcome.
    func record(_ record: TeeRecord) {
        var compacted = record
        compacted.requestHead = TeeRecord.compact(record.requestHead)
        compacted.requestBody = TeeRecord.compact(record.requestBody)
        compacted.responseHead = record.responseHead.map(TeeRecord.compact)
        compacted.responseBody = record.responseBody.map(TeeRecord.compact)
        let record = compacted, policy = policy, tally = tally
        if let reason = recorder.record(cost: record.cost, build: { record.exchange(policy: policy, tally: tally) }) {
            tally.add(reason)
        } else {
            tally.add("recorded")
        }
    }
}
