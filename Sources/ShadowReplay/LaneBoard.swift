import Foundation

/// Hands items to idle lanes, and holds (a bounded number of) items no lane was free for.
///
/// Contract: `dispatch` (the dispatcher thread) gives an item to an idle lane at once, else queues
/// it, waiting while the board is full (backpressure: nothing grows without bound however slow a
/// target is) unless the run is stopped. The board is full at `capacity` items, or past `minimum`
/// items once their requests hold `byteCapacity` bytes. `laneFinished` (a lane, on its loop)
/// returns the lane's next item, or records it as idle. `drain` waits until every lane is idle and
/// nothing is queued, and drops what no lane has taken yet once the run is stopped.
final class LaneBoard: @unchecked Sendable {
    private let condition = NSCondition()
    private var idle: [Lane] = []
    private var laneCount = 0
    /// Queued items from `readyHead` on; taken ones are nil until the array is compacted.
    private var ready: [ReplayItem?] = []
    private var readyHead = 0
    private var queuedBytes = 0
    /// Items queued at most.
    let capacity: Int
    private let minimum: Int
    private let byteCapacity: Int
    private var dispatcherWaiting = false

    init(capacity: Int, minimum: Int? = nil, byteCapacity: Int = 8 << 20) {
        self.capacity = max(1, capacity)
        self.minimum = min(self.capacity, max(1, minimum ?? capacity))
        self.byteCapacity = byteCapacity
    }

    func add(_ lanes: [Lane]) {
        condition.withLock {
            idle.append(contentsOf: lanes)
            laneCount += lanes.count
        }
    }

    private var queued: Int { ready.count - readyHead }

    /// Gives each of `items`, in order, to an idle lane or queues it, waiting for room; returns
    /// false, the rest not taken, once `stopped()` holds while it waits. The lanes on one event
    /// loop are started together, one wake-up of the loop for them all. An open-loop item that
    /// finds no idle lane is marked as waited for one, unless the store held it back first.
    func dispatch(_ items: [ReplayItem], unlessStopped stopped: () -> Bool) -> Bool {
        var taken: [(lane: Lane, item: ReplayItem)] = []
        defer { Self.start(taken) }
        condition.lock()
        defer { condition.unlock() }
        for var item in items {
            while true {
                if let lane = idle.popLast() {
                    taken.append((lane, item))
                    break
                }
                if item.dueNs != nil { item.waited = item.waited ?? .noFreeLane }
                if queued < minimum || (queued < capacity && queuedBytes < byteCapacity) {
                    if readyHead > 1024 && readyHead * 2 > ready.count {
                        ready.removeFirst(readyHead)
                        readyHead = 0
                    }
                    queuedBytes += item.requestBytes
                    ready.append(item)
                    break
                }
                if stopped() { return false }
                // What is taken must not wait while the board is full.
                condition.unlock()
                Self.start(taken)
                taken.removeAll()
                condition.lock()
                dispatcherWaiting = true
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.01))
            }
        }
        return true
    }

    /// Starts each lane on its item, with one `execute` per event loop.
    private static func start(_ taken: [(lane: Lane, item: ReplayItem)]) {
        if taken.count == 1, let (lane, item) = taken.first {
            return lane.loop.execute { lane.start(item) }
        }
        var byLoop: [ObjectIdentifier: [(lane: Lane, item: ReplayItem)]] = [:]
        for pair in taken { byLoop[ObjectIdentifier(pair.lane.loop), default: []].append(pair) }
        for group in byLoop.values {
            group[0].lane.loop.execute {
                for (lane, item) in group { lane.start(item) }
            }
        }
    }

    /// The lane's next item, or nil once the lane is recorded as idle.
    func laneFinished(_ lane: Lane) -> ReplayItem? {
        condition.lock()
        defer { condition.unlock() }
        if queued > 0 {
            let item = ready[readyHead].take()
            readyHead += 1
            queuedBytes -= item?.requestBytes ?? 0
            if dispatcherWaiting && queued <= capacity / 2 {
                dispatcherWaiting = false
                condition.broadcast()
            }
            return item
        }
        idle.append(lane)
        if dispatcherWaiting {
            dispatcherWaiting = false
            condition.broadcast()
        }
        return nil
    }

    /// Waits until every lane is idle and nothing is queued. Once `stopped()` holds, what is still
    /// queued is dropped (none of it was sent) and only the requests in flight are waited for.
    func drain(stopped: () -> Bool) {
        condition.lock()
        defer { condition.unlock() }
        while idle.count < laneCount || queued > 0 {
            if queued > 0 && stopped() {
                ready.removeAll()
                readyHead = 0
                queuedBytes = 0
                continue
            }
            dispatcherWaiting = true
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.01))
        }
    }

    /// Lanes carrying a request now.
    var busy: Int { condition.withLock { laneCount - idle.count } }

    /// Every lane, once drained.
    var lanes: [Lane] { condition.withLock { idle } }
}
