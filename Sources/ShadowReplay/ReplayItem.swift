import NIOCore
import ShadowCore
import ShadowHTTP1

/// One request on its way to every side: what a lane sends.
struct ReplayItem: Sendable {
    var exchangeID: Int64
    var pass: Int
    var captureTimeNs: Int64
    /// The encoded request per side, in `ReplayConfiguration.targets` order.
    var requests: [ByteBuffer]
    /// What the responses answer (HEAD and CONNECT change their framing).
    var kind: HTTP1RequestKind
    /// Side indices in the order they are written to (seeded, per request).
    var order: [Int]
    /// Intended send time (monotonic ns); nil in a closed loop: the moment a lane takes it.
    var dueNs: UInt64?
    /// Intended send time in ns since the run's start, when scheduled.
    var scheduledNs: Int64?
    var warmup = false
    /// What it had to wait for, if anything held it past its due time (backpressure).
    var waited: LateCause?

    /// The encoded requests' bytes, every side together: what holding the item costs.
    var requestBytes: Int { requests.reduce(0) { $0 + $1.readableBytes } }
}

/// Why a request was sent after its due time.
enum LateCause: Sendable {
    /// Every lane (every connection) was carrying a request.
    case noFreeLane
    /// The store was `backlog` results behind.
    case storeBehind
}

/// What one side answered to one request, with monotonic timestamps.
struct SideOutcome: Sendable {
    var sentNs: UInt64 = 0
    var firstByteNs: UInt64?
    var lastByteNs: UInt64?
    var status: Int?
    /// The response's header lines (`Name: value`, joined by CRLF).
    var headers: String?
    /// The response body, de-chunked.
    var body: [UInt8]?
    var error: ReplayErrorKind?
    var message: String?
    /// The connection was set up on this request's clock: its latency includes the set-up.
    var reconnected = false

    /// Monotonic time since `start`, in ms with one decimal, for failure messages.
    static func milliseconds(since start: UInt64) -> String {
        let tenths = (MonotonicClock.now() &- start) / 100_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// A request and what every side answered: what the recorder stores.
struct ReplayRecord: Sendable {
    var item: ReplayItem
    /// The instant latency is measured from: the due time, or the send time in a closed loop.
    var intendedNs: UInt64
    var outcomes: [SideOutcome]
}
