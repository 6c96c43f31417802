import NIOCore
import Testing

@testable import ShadowReplay

/// What the board holds for lanes that are all busy (no lane added: every item is queued).
@Suite struct LaneBoardTests {
    /// An item whose request is `bytes` long on each of two sides.
    private func item(_ bytes: Int) -> ReplayItem {
        ReplayItem(
            exchangeID: 1, pass: 0, captureTimeNs: 0,
            requests: [ByteBuffer(repeating: 0, count: bytes), ByteBuffer(repeating: 0, count: bytes)], kind: .other, order: [0, 1])
    }

    /// Items `board` takes before it would wait for room (`stopped` makes it return instead).
    private func accepted(_ board: LaneBoard, itemBytes: Int) -> Int {
        var n = 0
        while n < 10_000, board.dispatch([item(itemBytes)], unlessStopped: { true }) { n += 1 }
        return n
    }

    @Test func smallRequestsFillTheBoardToItsCapacity() {
        #expect(accepted(LaneBoard(capacity: 256, minimum: 4, byteCapacity: 1 << 20), itemBytes: 1_000) == 256)
    }

    @Test func largeRequestsStopAtItsByteLimitButNeverBelowOnePerLane() {
        // 2 × 150 KB per item: past the 4 one per lane, items are queued while under 1 MiB.
        #expect(accepted(LaneBoard(capacity: 256, minimum: 4, byteCapacity: 1 << 20), itemBytes: 150_000) == 4)
        #expect(accepted(LaneBoard(capacity: 256, minimum: 2, byteCapacity: 1 << 20), itemBytes: 150_000) == 4)
        #expect(accepted(LaneBoard(capacity: 256, minimum: 8, byteCapacity: 1 << 20), itemBytes: 600_000) == 8)
    }

    @Test func anOpenLoopBoardHoldsOnePerLane() {
        #expect(accepted(LaneBoard(capacity: 32), itemBytes: 1_000) == 32)
    }
}
