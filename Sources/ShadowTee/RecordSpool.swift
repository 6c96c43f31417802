import NIOCore
import ShadowCore
import ShadowHTTP1

/// One event loop's recording: appends each record to a spool segment (a copy of its bytes) and
/// hands the segment to the `TeeStore` once it holds `segmentBytes`, or every `handOverInterval`
/// while traffic trickles. What the store refuses is counted by reason, what it takes `recorded`.
///
/// Confined to its event loop (hence unchecked Sendable, like `UpstreamPool`). With `--redact`,
/// heads are rewritten here, before anything is stored: the named headers' values never reach
/// the file.
final class RecordSpool: @unchecked Sendable {
    static let segmentBytes = 64 << 10
    static let handOverInterval = TimeAmount.milliseconds(20)

    let eventLoop: EventLoop
    private let store: TeeStore
    private let tally: TeeTally
    private let policy: RecordingPolicy
    private var segment = SpoolSegment(capacity: RecordSpool.segmentBytes + 4096)
    private var handOverTask: RepeatedTask?
    /// After `stop`, each record is handed over at once (a request the drain gave up on may still end).
    private var stopped = false

    init(eventLoop: EventLoop, store: TeeStore, tally: TeeTally, policy: RecordingPolicy) {
        self.eventLoop = eventLoop
        self.store = store
        self.tally = tally
        self.policy = policy
    }

    /// Starts handing over partly filled segments every `handOverInterval`.
    func start() {
        handOverTask = eventLoop.scheduleRepeatedTask(
            initialDelay: Self.handOverInterval, delay: Self.handOverInterval
        ) { [self] _ in handOver() }
    }

    /// Hands over what is spooled and stops the timer (shutdown, after the drain).
    func stop() {
        handOverTask?.cancel()
        handOverTask = nil
        stopped = true
        handOver()
    }

    func append(_ record: TeeRecord) {
        guard policy.redactsHeaders else { return add(record) }
        var redacted = record
        var count = 0
        guard let request = policy.redacted(record.requestHead, isRequest: true) else { return tally.add(.unparsableRequest) }
        (redacted.requestHead, count) = request
        if let head = record.responseHead {
            guard let response = policy.redacted(head, isRequest: false) else { return tally.add(.unparsableResponse) }
            redacted.responseHead = response.head
            count += response.redacted
        }
        if count > 0 { tally.add("redacted_headers", Int64(count)) }
        add(redacted)
    }

    private func add(_ record: TeeRecord) {
        segment.append(record)
        if stopped || segment.bytes.count >= Self.segmentBytes { handOver() }
    }

    private func handOver() {
        guard !segment.isEmpty else { return }
        let full = segment
        segment = SpoolSegment(capacity: Self.segmentBytes + 4096)
        if let reason = store.offer(full) {
            tally.add(reason, Int64(full.records))
        } else {
            tally.add(.recorded, Int64(full.records))
        }
    }
}
