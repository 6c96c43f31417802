import ShadowCore
import ShadowDiff

/// One replayed request laid out for reading: the request, then production's, the baseline's,
/// the candidate's and the secondary's answers, each with its latency, redacted headers and a
/// decoded, pretty-printed body whose differing parts are marked. Both `shadowdiff show` and the
/// HTML report's examples render this.
public struct ExchangeView: Sendable {
    /// One message: the request or one side's answer.
    public struct Part: Sendable {
        /// `request`, `production`, `baseline`, `candidate` or `secondary`.
        public var name: String
        /// `POST /bid HTTP/1.1`, `200`, `no answer: timeout (after 50 ms)`.
        public var title: String
        public var latencyNs: Int64?
        public var headers: [HeaderField]
        /// How the body was read: `application/json, 812 bytes, gzip decoded`, `not JSON: ...`.
        public var bodyNote: String
        var lines: [PrettyJSON.Line]
        /// Body lines past the display cap.
        public var omittedLines: Int
        /// The body as displayed, one entry per line.
        public var bodyLines: [String] { lines.map(\.text) }
        public var markedLineCount: Int { lines.count { $0.marked } }
    }

    public var exchangeID: Int64
    public var pass: Int
    public var endpoint: String
    public var preset: RulePreset
    public var request: Part
    /// Production first (when captured), then baseline, candidate, secondary, those present.
    public var answers: [Part]
    /// Mismatches against the baseline by side (`candidate`, `secondary`, `production`).
    public var mismatches: [(side: String, mismatches: [Mismatch])]

    /// Lines of a body shown at most; the rest are counted.
    public static let maxBodyLines = 400
    /// Bytes of a body that is not JSON shown at most.
    public static let maxTextBytes = 16 << 10

    public init(
        exchangeID: Int64, pass: Int, exchange: CapturedExchange, results: [Side: SideResult], rules: DiffRules,
        redaction: Redaction
    ) {
        let comparison = ExchangeComparison(
            request: exchange.request, production: (exchange.response, failure: exchange.productionError), results: results,
            rules: rules)
        self.exchangeID = exchangeID
        self.pass = pass
        let request = exchange.request
        endpoint = EndpointName.of(method: request.method, path: request.path)
        preset = comparison.preset
        mismatches = ["candidate", "secondary", "production"].compactMap { side in
            comparison.mismatches[side].map { (side, $0) }
        }
        self.request = Self.part(
            "request", title: "\(request.method) \(redaction.apply(target: request.target)) \(request.version)", latencyNs: nil,
            headers: request.headers, body: request.body, marked: [], redaction: redaction)
        var answers: [Part] = []
        if exchange.response != nil || exchange.productionError != nil {
            answers.append(Self.answer(
                "production", exchange.response, error: exchange.productionError, latencyNs: exchange.productionLatencyNs,
                marked: comparison.mismatches["production"] ?? [], redaction: redaction))
        }
        let againstBaseline = (comparison.mismatches["candidate"] ?? []) + (comparison.mismatches["production"] ?? [])
        for side in Side.allCases {
            guard let r = results[side] else { continue }
            let error = r.error.map { kind in r.errorMessage.map { "\(kind.rawValue) (\($0))" } ?? kind.rawValue }
            let marked = side == .baseline ? againstBaseline : comparison.mismatches[side.rawValue] ?? []
            answers.append(Self.answer(side.rawValue, r.response, error: error, latencyNs: r.latencyNs, marked: marked, redaction: redaction))
        }
        self.answers = answers
    }

    private static func answer(
        _ name: String, _ response: RecordedResponse?, error: String?, latencyNs: Int64?, marked: [Mismatch], redaction: Redaction
    ) -> Part {
        guard let response else {
            return Part(
                name: name, title: "no answer: \(error ?? "none recorded")", latencyNs: latencyNs, headers: [], bodyNote: "",
                lines: [], omittedLines: 0)
        }
        return part(name, title: String(response.status), latencyNs: latencyNs, headers: response.headers, body: response.body,
                    marked: marked, redaction: redaction)
    }

    private static func part(
        _ name: String, title: String, latencyNs: Int64?, headers: [HeaderField], body: [UInt8], marked: [Mismatch],
        redaction: Redaction
    ) -> Part {
        var part = Part(
            name: name, title: title, latencyNs: latencyNs, headers: redaction.apply(headers), bodyNote: "", lines: [], omittedLines: 0)
        guard !body.isEmpty else {
            part.bodyNote = "no body"
            return part
        }
        let (decoded, outcome) = ContentDecoder.decode(body, headers: headers)
        var notes = [headers.first("Content-Type") ?? "no content type", "\(body.count) bytes"]
        switch outcome {
        case .identity: break
        case .decoded(let codings): notes.append("\(codings) decoded to \(decoded.count) bytes")
        case .undecodable(let why): notes.append("shown as sent: \(why)")
        }
        if let document = JSONParser.parse(decoded) {
            let shown = redaction.apply(document)
            (part.lines, part.omittedLines) = PrettyJSON.lines(
                shown, marked: MismatchLocator.pointers(of: marked, in: shown), maxLines: maxBodyLines)
        } else {
            let marks = marked.contains { $0.kind == .body || $0.kind == .unparsable }
            if decoded.first.map({ $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "[") }) == true { notes.append("not valid JSON") }
            let text = HTMLText.readable(decoded.prefix(maxTextBytes))
            let all = text.split(separator: "\n", omittingEmptySubsequences: false)
            part.lines = all.prefix(maxBodyLines).map { PrettyJSON.Line(text: String($0), marked: marks) }
            part.omittedLines = max(0, all.count - maxBodyLines)
            if decoded.count > maxTextBytes { notes.append("first \(maxTextBytes) bytes shown") }
        }
        part.bodyNote = notes.joined(separator: ", ")
        return part
    }
}
