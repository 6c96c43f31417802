import Foundation
import NIOCore
import ShadowCore
import ShadowStore
import Testing

@testable import ShadowTee

@Suite struct SpoolTests {
    static func record(_ n: Int, response: Bool = true) -> TeeRecord {
        let body = #"{"id":"r\#(n)","imp":[{"id":"1"}]}"#
        return TeeRecord(
            requestHead: ByteBuffer(string: "POST /openrtb2/auction?n=\(n) HTTP/1.1\r\nHost: bidder\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nX-Trace: \(n)\r\n\r\n"),
            requestBody: ByteBuffer(string: body),
            target: n % 4 == 3 ? "/original/\(n)" : nil,
            responseHead: response ? ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n") : nil,
            responseBody: response ? ByteBuffer(string: #"{"bid":\#(n % 10)}"#) : nil,
            wallClockNs: 1_700_000_000_000_000_000 + Int64(n), connection: Int64(n % 5 + 1), client: "127.0.0.1:\(40000 + n)",
            server: "127.0.0.1:8080", latencyNs: response ? UInt64(1_000 + n) : nil, error: n % 7 == 6 ? "upstream_timeout" : nil)
    }

    static func same(_ a: TeeRecord, _ b: TeeRecord) -> Bool {
        a.requestHead == b.requestHead && a.requestBody == b.requestBody && a.target == b.target
            && a.responseHead == b.responseHead && a.responseBody == b.responseBody && a.wallClockNs == b.wallClockNs
            && a.connection == b.connection && a.client == b.client && a.server == b.server && a.latencyNs == b.latencyNs
            && a.error == b.error
    }

    static func segment(_ range: Range<Int>) -> SpoolSegment {
        var segment = SpoolSegment(capacity: 0)
        for n in range { segment.append(record(n, response: n % 3 != 2)) }
        return segment
    }

    @Test func recordsComeBackAsTheyWereAppended() throws {
        let segment = Self.segment(0..<40)
        #expect(segment.records == 40)
        let decoded = try SpoolSegment.records(in: segment.bytes)
        #expect(decoded.count == 40)
        for (n, record) in decoded.enumerated() {
            #expect(Self.same(record, Self.record(n, response: n % 3 != 2)), "record \(n)")
        }
        // Empty bodies and heads are present (zero length), not absent.
        var empty = SpoolSegment(capacity: 0)
        empty.append(TeeRecord(
            requestHead: ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"), requestBody: ByteBuffer(), responseHead: ByteBuffer(),
            responseBody: ByteBuffer(), wallClockNs: 0, connection: 0, client: "", server: "", latencyNs: 0))
        let back = try #require(try SpoolSegment.records(in: empty.bytes).first)
        #expect(back.requestBody.readableBytes == 0 && back.responseBody?.readableBytes == 0 && back.responseHead != nil)
        #expect(back.latencyNs == 0 && back.target == nil && back.error == nil)
    }

    @Test func damagedSegmentsAreRefusedNeverMisread() {
        let bytes = Self.segment(0..<2).bytes
        let first = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24) + 4
        // Every truncation: refused, unless it ends exactly after the first record.
        for cut in 1..<bytes.count {
            let prefix = Array(bytes[..<cut])
            if cut == first {
                #expect((try? SpoolSegment.records(in: prefix))?.count == 1)
            } else {
                #expect(throws: SpoolSegmentError.self, "cut at \(cut)") { try SpoolSegment.records(in: prefix) }
            }
        }
        // Flipped bytes anywhere: decoded or refused, never a crash.
        var random = SplitMix64(seed: 7)
        for _ in 0..<5_000 {
            var damaged = bytes
            for _ in 0..<Int(random.next() % 4 + 1) {
                damaged[Int(random.next() % UInt64(damaged.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            _ = try? SpoolSegment.records(in: damaged)
        }
        // A length field of 0xFFFFFFFF in the middle of a record.
        var absurd = bytes
        absurd.replaceSubrange(28..<32, with: [0xFF, 0xFF, 0xFF, 0xFE])
        #expect(throws: SpoolSegmentError.self) { try SpoolSegment.records(in: absurd) }
    }

    /// The exchanges a segment's records make, expanded through the store, equal those the records
    /// make directly; the spool is empty afterwards.
    @Test func theStoreSpoolsAndExpandsEveryRecord() throws {
        try withTemporaryDirectory { dir in
            let database = try ShadowDatabase(path: dir + "/spool.db", mode: .createIfMissing)
            let capture = try database.beginCapture(sourceKind: "proxy", source: "test", filter: nil)
            let tally = TeeTally()
            let store = TeeStore(database: database, captureID: capture, tally: tally, queueBytes: 64 << 20, pollInterval: 0.001)
            for start in stride(from: 0, to: 300, by: 30) {
                #expect(store.offer(Self.segment(start..<start + 30)) == nil)
            }
            var lastProgress: (Int64, Int64) = (0, 0)
            #expect(try store.finish { lastProgress = ($0, $1) } == 300)
            #expect(lastProgress == (300, 300))
            #expect(store.expanded == 300)
            #expect(try database.exchangeCount(captureID: capture) == 300)
            #expect(try database.captures().first?.spooled == 0)
            let stored = try database.exchanges(captureID: capture, afterID: 0, limit: 1_000).map(\.exchange)
            #expect(stored.count == 300)
            for (n, exchange) in stored.enumerated() {
                let record = Self.record(n, response: n % 3 != 2)
                let direct = try #require(record.exchange(policy: RecordingPolicy(), tally: TeeTally()))
                #expect(exchange.captureTimeNs == direct.captureTimeNs && exchange.connection == direct.connection)
                #expect(exchange.client == direct.client && exchange.server == direct.server)
                #expect(exchange.request.method == "POST" && exchange.request.target == direct.target)
                #expect(exchange.request.headers.wireUTF8 == direct.requestHeaderText)
                #expect(exchange.request.body == direct.requestBody)
                #expect(exchange.response?.status == direct.response?.status)
                #expect(exchange.response?.body == direct.response?.body)
                #expect(exchange.productionLatencyNs == direct.productionLatencyNs && exchange.productionError == direct.productionError)
            }
            #expect(stored[3].request.target == "/original/3" && stored[0].request.target == "/openrtb2/auction?n=0")
            #expect(stored[2].response == nil && stored[6].productionError == "upstream_timeout")
            #expect(store.offer(Self.segment(0..<1)) == .storeFailed, "nothing is taken after finish")
        }
    }

    @Test func aFullQueueRefusesAtOnce() throws {
        try withTemporaryDirectory { dir in
            let database = try ShadowDatabase(path: dir + "/full.db", mode: .createIfMissing)
            let capture = try database.beginCapture(sourceKind: "proxy", source: "test", filter: nil)
            let store = TeeStore(database: database, captureID: capture, tally: TeeTally(), queueBytes: 64 << 10)
            let segment = Self.segment(0..<100)
            let started = Date()
            var refused = 0, queued = 0
            for _ in 0..<200 {
                switch store.offer(segment) {
                case nil: queued += 1
                case .recordQueueFull?: refused += 1
                case let other: Issue.record("unexpected \(String(describing: other))")
                }
            }
            #expect(Date().timeIntervalSince(started) < 1, "offers never wait")
            #expect(refused > 0 && queued > 0, "queued \(queued), refused \(refused)")
            #expect(try store.finish() == Int64(queued * 100))
            #expect(try database.exchangeCount(captureID: capture) == Int64(queued * 100))
        }
    }

    /// What a killed tee left spooled is expanded by the next one; a segment that no longer decodes
    /// is counted and kept, not expanded again.
    @Test func leftoversOfAnEndedCaptureAreExpandedOnceAndDamageIsCounted() throws {
        try withTemporaryDirectory { dir in
            let database = try ShadowDatabase(path: dir + "/left.db", mode: .createIfMissing)
            let capture = try database.beginCapture(sourceKind: "proxy", source: "killed", filter: nil)
            var damaged = Self.segment(50..<60).bytes
            damaged.removeLast(3)
            try database.spool(captureID: capture, segments: [
                (20, Self.segment(0..<20).bytes), (10, damaged), (30, Self.segment(20..<50).bytes),
            ])
            #expect(try TeeStore.expandLeftovers(in: database) == 0, "a running capture's spool is its own")
            try database.finishCapture(id: capture, counters: Counters(), linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: "killed")
            #expect(try database.captures().first?.spooled == 60)
            var totals: [Int64] = []
            #expect(try TeeStore.expandLeftovers(in: database) { _, total in totals.append(total) } == 50)
            #expect(totals == [60], "progress after each batch of segments")
            let info = try #require(try database.captures().first)
            #expect(info.exchanges == 50 && info.spooled == 0)
            #expect(info.counters["spool_unreadable"] == 10)
            #expect(try TeeStore.expandLeftovers(in: database) == 0)
            #expect(try database.captures().first?.counters["spool_unreadable"] == 10, "counted once")
        }
    }
}

/// A fresh temporary directory per test, removed at the end.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shadowdiff-tee-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}
