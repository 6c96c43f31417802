import NIOCore

/// The timeout of a keep-alive connection's requests, one at a time, with a single scheduled task
/// moved lazily: arming a deadline no earlier than the one already armed schedules nothing, so a
/// busy connection schedules about one task per timeout, not one per request.
///
/// Contract: confined to one event loop. When the task fires, the owner calls `fired()`, then
/// looks at its pending request: past its deadline, it times it out; otherwise it arms that
/// deadline again.
public struct LazyDeadlineTimer {
    private var task: Scheduled<Void>?
    private var armedAt = NIODeadline.distantFuture

    public init() {}

    /// Makes sure `fire` runs on `eventLoop` at `deadline` or earlier.
    public mutating func arm(_ deadline: NIODeadline, on eventLoop: EventLoop, fire: @escaping () -> Void) {
        guard deadline < armedAt else { return }
        task?.cancel()
        armedAt = deadline
        task = eventLoop.assumeIsolated().scheduleTask(deadline: deadline, fire)
    }

    /// Forgets the task that just fired.
    public mutating func fired() {
        task = nil
        armedAt = .distantFuture
    }

    /// Cancels the armed task, if any.
    public mutating func cancel() {
        task?.cancel()
        fired()
    }
}
