import Foundation

/// A first-in first-out queue between threads, bounded by a caller-defined cost (items, bytes).
///
/// Contract:
/// - `push` waits while the queue is over capacity (backpressure); `offer` never waits and
///   returns false instead, leaving the caller to count the drop. A waiting `push` is woken once
///   the queue has drained to half its capacity, so a full queue and a faster producer take turns
///   in batches, not a wake-up per item.
/// - An item costing more than the whole capacity is still accepted into an empty queue, so
///   nothing is refused forever.
/// - `pop` waits for an item; after `close` it drains what is left and then returns nil.
///   `pop(timeout:)` also returns nil when the wait ran out (tell the two apart with `isClosedAndEmpty`).
/// - Pushing into a closed queue drops the item and returns false.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [(element: Element?, cost: Int)] = []
    private var head = 0
    private var cost = 0
    private var closed = false
    /// Threads waiting in `pop`, and in `push`; appends and takes only wake anyone when there are some.
    private var waitingToPop = 0
    private var waitingToPush = 0
    /// The total cost the queue holds before `push` waits and `offer` refuses.
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Appends `element`, waiting while the queue is full; false if the queue was closed.
    @discardableResult
    public func push(_ element: Element, cost itemCost: Int = 1) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed && cost > 0 && cost + itemCost > capacity {
            waitingToPush += 1
            condition.wait()
            waitingToPush -= 1
        }
        return append(element, itemCost)
    }

    /// Appends `element` unless that would overflow the capacity or the queue is closed.
    public func offer(_ element: Element, cost itemCost: Int = 1) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if cost > 0 && cost + itemCost > capacity { return false }
        return append(element, itemCost)
    }

    /// The oldest item, waiting for one; nil once the queue is closed and empty.
    public func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while !closed && head == items.count {
            waitingToPop += 1
            condition.wait()
            waitingToPop -= 1
        }
        return take()
    }

    /// The oldest item, waiting at most `timeout` seconds; nil on timeout or once closed and empty.
    public func pop(timeout: Double) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !closed && head == items.count {
            waitingToPop += 1
            let signalled = condition.wait(until: deadline)
            waitingToPop -= 1
            if !signalled { break }
        }
        return take()
    }

    /// Everything queued, oldest first, without waiting (empty when nothing is queued).
    public func popAll() -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        let taken = items[head...].compactMap { $0.element }
        items.removeAll(keepingCapacity: true)
        head = 0
        cost = 0
        if waitingToPush > 0 { condition.broadcast() }
        return taken
    }

    /// No more pushes; consumers drain what is queued, then get nil.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    public var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    public var isClosedAndEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed && head == items.count
    }

    /// The cost currently queued.
    public var queuedCost: Int {
        condition.lock()
        defer { condition.unlock() }
        return cost
    }

    private func append(_ element: Element, _ itemCost: Int) -> Bool {
        guard !closed else { return false }
        items.append((element, itemCost))
        cost += itemCost
        if waitingToPop > 0 { condition.broadcast() }
        return true
    }

    private func take() -> Element? {
        guard head < items.count else { return nil }
        let (element, itemCost) = items[head]
        items[head].element = nil
        head += 1
        cost -= itemCost
        if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        } else if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        if waitingToPush > 0 && cost <= capacity / 2 { condition.broadcast() }
        return element
    }
}
