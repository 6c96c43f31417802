import ShadowCore
import Testing

@testable import ShadowCapture

/// Records what a reassembler delivers.
struct Recorder: ByteStreamConsumer {
    var bytes: [UInt8] = []
    var gaps: [Int] = []
    var times: [Int64] = []
    /// Delivered bytes with gaps marked as `#` runs, to compare whole streams at once.
    var text = ""

    mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
        self.bytes += bytes
        times.append(timestampNs)
        text += String(decoding: bytes, as: UTF8.self)
    }

    mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally) {
        gaps.append(byteCount)
        text += "#\(byteCount)#"
    }
}

@Suite struct TCPReassemblerTests {
    struct Harness {
        var stream = TCPReassembler(maxBufferedBytes: 1 << 20)
        var recorder = Recorder()
        var tally = CaptureTally()

        init(isn: UInt32, limit: Int = 1 << 20) {
            stream = TCPReassembler(maxBufferedBytes: limit)
            stream.start(at: isn &+ 1, midstream: false)
        }

        mutating func add(_ seq: UInt32, _ text: String, ts: Int64 = 0) {
            Array(text.utf8).withUnsafeBytes {
                stream.ingest(sequence: seq, payload: $0, timestampNs: ts, into: &recorder, tally: &tally)
            }
        }

        mutating func close() {
            stream.close(timestampNs: 0, into: &recorder, tally: &tally)
        }
    }

    @Test func inOrder() {
        var h = Harness(isn: 99)
        h.add(100, "hello ")
        h.add(106, "world")
        #expect(h.recorder.text == "hello world")
        #expect(h.tally.drops.isEmpty)
    }

    @Test func outOfOrderIsHeldUntilTheHoleFills() {
        var h = Harness(isn: 99)
        h.add(106, "world", ts: 2)
        h.add(111, "!", ts: 3)
        #expect(h.recorder.text.isEmpty)
        #expect(h.stream.heldBytes == 6)
        h.add(100, "hello ", ts: 4)
        #expect(h.recorder.text == "hello world!")
        #expect(h.recorder.times == [4, 4, 4], "held bytes carry the time they became available in order")
        #expect(h.stream.heldBytes == 0)
    }

    @Test func retransmissionsAreDroppedAndCounted() {
        var h = Harness(isn: 99)
        h.add(100, "abc")
        h.add(100, "abc")
        h.add(103, "def")
        h.add(110, "xyz")
        h.add(110, "xyz")
        h.add(106, "ghij")
        #expect(h.recorder.text == "abcdefghijxyz")
        #expect(h.tally[.retransmittedSegment] == 2)
    }

    @Test func overlapsDeliverOnlyNewBytes() {
        var h = Harness(isn: 99)
        h.add(100, "abcd")
        h.add(102, "cdEF")
        h.add(108, "IJ")
        h.add(105, "FGH")
        #expect(h.recorder.text == "abcdEFGHIJ")
        #expect(h.tally[.retransmittedSegment] == 2)
    }

    @Test func sequenceNumbersWrapAround() {
        var h = Harness(isn: 0xFFFF_FFFA)
        h.add(0xFFFF_FFFB, "abc")
        h.add(0x0000_0001, "ghi")
        h.add(0xFFFF_FFFE, "def")
        h.add(0xFFFF_FFFD, "cde")
        #expect(h.recorder.text == "abcdefghi")
        #expect(h.tally[.retransmittedSegment] == 1)
    }

    @Test func holesLeftAtCloseAreGaps() {
        var h = Harness(isn: 99)
        h.add(100, "abc")
        h.add(110, "klm")
        h.add(120, "uvw")
        h.close()
        #expect(h.recorder.text == "abc#7#klm#7#uvw")
        #expect(h.tally[.gap] == 2)
    }

    @Test func holeBeforeFINIsAGap() {
        var h = Harness(isn: 99)
        h.add(100, "abc")
        h.stream.fin(at: 110)
        #expect(!h.stream.isFinished)
        h.close()
        #expect(h.recorder.text == "abc#7#")
        #expect(h.stream.isFinished)
    }

    @Test func finEndsTheStreamOnceEveryByteArrived() {
        var h = Harness(isn: 99)
        h.add(103, "def")
        h.stream.fin(at: 106)
        #expect(!h.stream.isFinished)
        h.add(100, "abc")
        #expect(h.stream.isFinished)
        #expect(h.recorder.text == "abcdef")
    }

    @Test func overflowGivesUpTheHole() {
        var h = Harness(isn: 99, limit: 8)
        h.add(100, "ab")
        h.add(110, "klmno")
        h.add(115, "pqrst")
        #expect(h.tally[.reassemblyOverflow] == 1)
        #expect(h.tally[.gap] == 1)
        #expect(h.recorder.text == "ab#8#klmnopqrst")
        h.add(102, "cdefghij")
        #expect(h.tally[.retransmittedSegment] == 1, "bytes given up are not delivered late")
    }

    @Test func acknowledgedHoleIsGivenUpAtOnce() {
        var h = Harness(isn: 99)
        h.add(100, "abc")
        h.add(110, "klm")
        h.stream.acknowledged(105, into: &h.recorder, tally: &h.tally)
        #expect(h.recorder.text == "abc", "the acknowledgment does not cover held data: keep waiting")
        h.stream.acknowledged(113, into: &h.recorder, tally: &h.tally)
        #expect(h.recorder.text == "abc#7#klm")
    }

    @Test func midstreamStartTakesTheFirstSegment() {
        var stream = TCPReassembler(maxBufferedBytes: 100)
        var recorder = Recorder()
        var tally = CaptureTally()
        Array("xyz".utf8).withUnsafeBytes { stream.ingest(sequence: 123_456, payload: $0, timestampNs: 0, into: &recorder, tally: &tally) }
        #expect(stream.startedMidstream)
        #expect(recorder.text == "xyz")
    }
}
