import NIOCore
import ShadowCapture
import ShadowCore
import ShadowDiff
import ShadowHTTP1
import ShadowHTTP2

/// Every parser shadowdiff runs on untrusted bytes, as a libFuzzer target.
///
/// Contract: `run` accepts any bytes and returns; it traps (a finding) only when the parser it
/// drives crashes or breaks one of its own stated contracts. The fuzzer (fuzz/, `make fuzz`) and
/// the regression tests (fixtures/fuzz/NAME/, run by `make test`) call the same `run`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Link, IP and TCP decoding of frames, then the whole capture pipeline behind it.
    case packetDecoding = "packet-decoding"
    /// One direction of a TCP connection put back in sequence order.
    case tcpReassembly = "tcp-reassembly"
    /// HTTP/1.1 requests: the capture's parser and the tee's framer.
    case http1Request = "http1-request"
    /// HTTP/1.1 responses: the capture's parser and the framer the tee and the replayer read with.
    case http1Response = "http1-response"
    /// Two answers decoded (gzip included), parsed and compared under the `json` and `openrtb` rules.
    case jsonDiff = "json-diff"
    /// A rules file (YAML or JSON).
    case rules = "rules"
    /// Protobuf bytes decoded without a schema, and with a descriptor set the input carries.
    case protobuf = "protobuf"
    /// HTTP/2 frames of both directions, cut into pieces, through the stream assembler.
    case http2Frames = "http2-frames"
    /// HPACK header blocks through one decoding context, checked against NIOHPACK's decoder.
    case hpack = "hpack"

    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .packetDecoding: CaptureFuzzing.packetDecoding(bytes)
        case .tcpReassembly: CaptureFuzzing.tcpReassembly(bytes)
        case .http1Request:
            CaptureFuzzing.http1Request(bytes)
            FramerCheck.run(bytes, isRequest: true)
        case .http1Response:
            CaptureFuzzing.http1Response(bytes)
            FramerCheck.run(bytes, isRequest: false)
        case .jsonDiff: AnswerCheck.run(bytes)
        case .rules: _ = try? RulesFile.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        case .protobuf: ProtobufCheck.run(bytes)
        case .http2Frames: HTTP2Fuzzing.frames(bytes)
        case .hpack: HTTP2Fuzzing.hpack(bytes)
        }
    }
}

/// Drives `HTTP1Framer` with a stream cut into pieces and checks its contract: the bytes of its
/// events, in order, are the bytes it consumed, less the empty lines it may skip between messages.
enum FramerCheck {
    static func run(_ bytes: UnsafeRawBufferPointer, isRequest: Bool) {
        var input = FuzzInput(bytes)
        var random = SplitMix64(seed: UInt64(input.byte()))
        let kinds: [HTTP1RequestKind] = [.other, .head, .connect]
        var framer = HTTP1Framer(isRequest: isRequest, maxHeadBytes: 2048, maxHeadFields: 32)
        framer.answering = kinds[Int(input.byte()) % kinds.count]
        let stream = input.rest()
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        var fed = 0
        var matched = 0
        while fed < stream.count {
            let piece = min(1 + Int(random.next() % 64), stream.count - fed)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: stream[fed..<fed + piece]))
            fed += piece
            do {
                while let event = try framer.next(&buffer) {
                    switch event {
                    case .head(_, let raw), .data(let raw), .framing(let raw): matched = match(raw, in: stream, from: matched)
                    case .end: break
                    }
                }
            } catch {
                return
            }
            precondition(matched <= fed - buffer.readableBytes, "events carry bytes not consumed")
        }
        _ = framer.finish()
    }

    /// Where `raw` ends in `stream`, found at `from` after any CR and LF bytes skipped there.
    private static func match(_ raw: ByteBuffer, in stream: UnsafeRawBufferPointer, from start: Int) -> Int {
        let bytes = raw.readableBytesView
        var at = start
        while !stream[at...].starts(with: bytes), at < stream.count, stream[at] == 13 || stream[at] == 10 { at += 1 }
        precondition(stream[at...].starts(with: bytes), "event bytes differ from the stream at byte \(at)")
        return at + bytes.count
    }
}

/// Prepares two answers (the input split at its first 0xFF byte) and compares them both ways and
/// each with itself. Checks: an answer that parsed never differs from itself, and comparing a with
/// b finds as many differences as comparing b with a.
enum AnswerCheck {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let flags = input.byte()
        let body = input.rest()
        let split = body.firstIndex(of: 0xFF) ?? body.count
        let left = Array(body[..<split]), right = split < body.count ? Array(body[(split + 1)...]) : []
        let headers = flags & 1 == 0 ? [] : [HeaderField("Content-Encoding", "gzip")]
        let status = flags & 2 == 0 ? 200 : 204
        let rules = DiffRules()
        for preset in [RulePreset.json, .openrtb] {
            let a = PreparedAnswer(response: RecordedResponse(status: 200, headers: headers, body: left), failure: nil, preset: preset)
            let b = PreparedAnswer(response: RecordedResponse(status: status, headers: headers, body: right), failure: nil, preset: preset)
            for answer in [a, b] where answer.unparsable == nil {
                precondition(AnswerComparer.compare(answer, answer, preset: preset, rules: rules).mismatches.isEmpty, "an answer differs from itself")
            }
            let forward = AnswerComparer.compare(a, b, preset: preset, rules: rules)
            let backward = AnswerComparer.compare(b, a, preset: preset, rules: rules)
            precondition(forward.mismatches.count == backward.mismatches.count, "comparison is not symmetric")
        }
    }
}
