import Foundation
import ShadowCore
import Testing

@testable import ShadowCapture

@Suite struct PcapFileImporterTests {
    static let request = "POST /openrtb2/auction HTTP/1.1\r\nHost: bidder\r\nContent-Length: 11\r\n\r\n{\"id\":\"r1\"}"
    static let response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"seatbid\":1}"

    @Test func importsACraftedConversationWithReorderingAndRetransmission() throws {
        var c = Conversation()
        c.handshake()
        let head = Array(Self.request.utf8.prefix(40))
        let tail = Array(Self.request.utf8.dropFirst(40))
        let start = c.clientSeq
        c.packet(fromClient: true, flags: .ack, payload: tail, seq: start &+ 40, advance: false)
        c.packet(fromClient: true, flags: .ack, payload: head, seq: start, advance: false)
        c.packet(fromClient: true, flags: .ack, payload: head, seq: start, advance: false)
        c.clientSeq &+= UInt32(Self.request.utf8.count)
        c.send(Self.response, fromClient: false, dt: 2_500_000)
        c.close()
        let (summary, exchanges) = try importFrames(c.pcap())
        #expect(exchanges.count == 1)
        let e = try #require(exchanges.first)
        #expect(e.connection == 1 && e.client == "10.0.0.1:40000" && e.server == "10.0.0.2:8080")
        #expect(e.request.target == "/openrtb2/auction" && e.request.body == Array("{\"id\":\"r1\"}".utf8))
        #expect(e.response?.status == 200)
        #expect(e.productionLatencyNs == c.frames[6].1 - c.frames[4].1, "response end − request end (the request ended when its hole filled)")
        #expect(e.captureTimeNs == c.frames[4].1, "the request starts with the packet that made its first byte available")
        let counters = summary.counters
        #expect(counters["packets"] == Int64(c.frames.count))
        #expect(counters["bytes"] == Int64(c.frames.reduce(0) { $0 + $1.0.count }))
        #expect(counters["tcp_connections"] == 1 && counters["exchanges"] == 1)
        #expect(counters["requests"] == 1 && counters["responses"] == 1)
        #expect(counters[.retransmittedSegment] == 1)
        #expect(summary.linkType == "EN10MB")
        #expect(summary.firstPacketNs == c.frames.first?.1 && summary.lastPacketNs == c.frames.last?.1)
        #expect(counters.drops.map(\.0) == [.retransmittedSegment])
    }

    @Test func manyConnectionsAndPortReuse() throws {
        var writer = PcapWriter()
        var now: Int64 = 1_000_000_000
        for i in 0..<3 {
            var c = Conversation()
            c.clientSeq = UInt32(1000 * (i + 1))
            c.now = now
            c.handshake()
            c.send("GET /\(i) HTTP/1.1\r\n\r\n", fromClient: true)
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", fromClient: false)
            if i < 2 { c.close() }
            for (frame, ns) in c.frames { writer.add(frame, ns: ns) }
            now = c.now
        }
        let (summary, exchanges) = try importFrames(writer)
        #expect(exchanges.map(\.request.target) == ["/0", "/1", "/2"])
        #expect(exchanges.map(\.connection) == [1, 2, 3])
        #expect(summary.counters["tcp_connections"] == 3)
    }

    @Test func filterRejectsAreCounted() throws {
        var c = Conversation()
        c.handshake()
        c.send("GET / HTTP/1.1\r\n\r\n", fromClient: true)
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", fromClient: false)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/f.pcap"
        try c.pcap().write(to: path)
        let (summary, exchanges) = try importCapture(path, filter: "tcp port 9999")
        #expect(exchanges.isEmpty)
        #expect(summary.counters[.filtered] == Int64(c.frames.count))
        #expect(throws: ShadowError.self) { try importCapture(path, filter: "not a ( filter") }
    }

    @Test func missingFile() {
        #expect(throws: ShadowError.fileNotFound(path: "/nonexistent/x.pcap")) {
            try PcapFileImporter(path: "/nonexistent/x.pcap").run { _ in }
        }
    }

    @Test func notACapture() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/notes.txt"
        try Data("this is not a capture file, just some text\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try PcapFileImporter(path: path).run { _ in }
            Issue.record("no error")
        } catch let ShadowError.notACapture(errorPath, detail) {
            #expect(errorPath == path)
            #expect(detail.contains("format"), "libpcap's message: \(detail)")
        }
    }

    @Test func truncatedCaptureReportsTheDamagedRecord() throws {
        var c = Conversation()
        c.handshake()
        c.send("GET /kept HTTP/1.1\r\n\r\n", fromClient: true)
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", fromClient: false)
        c.send("GET /cut HTTP/1.1\r\n\r\n", fromClient: true)
        let writer = c.pcap()
        let damaged = writer.recordOffsets[5]
        let expectedOffset = 24 + c.frames[0..<5].reduce(0) { $0 + 16 + $1.0.count }
        #expect(damaged == expectedOffset)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for cut in [damaged + 10, damaged + 16 + 30] {
            let path = dir.path + "/cut-\(cut).pcap"
            try Data(writer.data.prefix(cut)).write(to: URL(fileURLWithPath: path))
            var exchanges: [CapturedExchange] = []
            do {
                _ = try PcapFileImporter(path: path).run { exchanges.append($0) }
                Issue.record("no error for a file cut at \(cut)")
            } catch let ShadowError.truncatedCapture(errorPath, packet, offset, detail) {
                #expect(errorPath == path)
                #expect(packet == 6, "the sixth record is the damaged one")
                #expect(offset == Int64(damaged))
                #expect(detail.contains("truncated"), "libpcap's message: \(detail)")
            }
            #expect(exchanges.map(\.request.target) == ["/kept"], "what came before the damage is kept")
        }
    }

    @Test func bsdLoopbackIPv6Capture() throws {
        var writer = PcapWriter(linkType: 0)
        let request = Array("GET /v6 HTTP/1.1\r\n\r\n".utf8)
        let response = Array("HTTP/1.1 204 No Content\r\n\r\n".utf8)
        let src = Frames.loopback6, dst = Frames.loopback6
        func frame(_ sport: UInt16, _ dport: UInt16, _ seq: UInt32, _ ack: UInt32, _ flags: TCPFlags, _ payload: [UInt8] = []) -> [UInt8] {
            Frames.le32(30) + Frames.ipv6Packet(src: src, dst: dst, Frames.tcp(sport: sport, dport: dport, seq: seq, ack: ack, flags: flags, payload: payload))
        }
        writer.add(frame(50000, 8065, 10, 0, .syn), ns: 1_000)
        writer.add(frame(8065, 50000, 70, 11, [.syn, .ack]), ns: 2_000)
        writer.add(frame(50000, 8065, 11, 71, [.ack, .psh], request), ns: 3_000)
        writer.add(frame(8065, 50000, 71, 11 + UInt32(request.count), [.ack, .psh], response), ns: 9_000)
        let (summary, exchanges) = try importFrames(writer)
        #expect(summary.linkType == "NULL")
        #expect(exchanges.count == 1)
        #expect(exchanges.first?.client == "[::1]:50000" && exchanges.first?.server == "[::1]:8065")
        #expect(exchanges.first?.response?.status == 204 && exchanges.first?.productionLatencyNs == 6_000)
    }

    @Test func unsupportedLinkTypeIsCounted() throws {
        var writer = PcapWriter(linkType: 105)
        writer.add([1, 2, 3, 4], ns: 1)
        let (summary, exchanges) = try importFrames(writer)
        #expect(exchanges.isEmpty)
        #expect(summary.counters[.unsupportedLinkType] == 1 && summary.counters["packets"] == 1)
    }
}
