import ShadowCore

/// One replayed request explained on its own: every side's answer prepared under the rules, and
/// what candidate, secondary and production answered differently from the baseline. This is the
/// comparison `DiffAccumulator` tallies, for showing one exchange (`show`, report examples).
public struct ExchangeComparison: Sendable {
    /// The preset applied (`auto` resolved).
    public var preset: RulePreset
    /// Mismatches against the baseline, by the other side's name (`candidate`, `secondary`,
    /// `production`), at most `AnswerComparer.limit` each; a side without an answer has no entry.
    public var mismatches: [String: [Mismatch]] = [:]

    public init(
        request: RecordedRequest, production: (RecordedResponse?, failure: String?)?, results: [Side: SideResult], rules: DiffRules
    ) {
        preset = rules.preset.resolved(for: request)
        guard let baseline = results[.baseline] else { return }
        let preset = preset
        func prepare(_ response: RecordedResponse?, _ failure: String?) -> PreparedAnswer {
            PreparedAnswer(response: response, failure: failure, preset: preset)
        }
        let b = prepare(baseline.response, baseline.error?.rawValue)
        var others: [(String, PreparedAnswer, baselineFirst: Bool)] = []
        for side in [Side.candidate, .secondary] {
            if let r = results[side] { others.append((side.rawValue, prepare(r.response, r.error?.rawValue), true)) }
        }
        if let production, production.0 != nil || production.failure != nil {
            others.append(("production", prepare(production.0, production.failure), false))
        }
        for (name, answer, baselineFirst) in others {
            mismatches[name] = (baselineFirst
                ? AnswerComparer.compare(b, answer, preset: preset, rules: rules)
                : AnswerComparer.compare(answer, b, preset: preset, rules: rules)).mismatches
        }
    }
}

/// Where mismatches are in a response document, as concrete JSON pointers, so a viewer can mark
/// them. OpenRTB decision fields (`/imp/*/price` for impression X) are found in the bids whose
/// `impid` is X; JSON fields at their path.
public enum MismatchLocator {
    public static func pointers(of mismatches: [Mismatch], in document: JSONValue?) -> Set<String> {
        var out: Set<String> = []
        for m in mismatches {
            if let impression = m.impression {
                guard let document, m.field.hasPrefix("/imp/*/") else { continue }
                locate(bidField: String(m.field.dropFirst("/imp/*/".count)), impression: impression, in: document, into: &out)
            } else if m.field.hasPrefix("/") {
                out.insert(m.path ?? m.field)
            }
        }
        return out
    }

    private static func locate(bidField field: String, impression: String, in document: JSONValue, into out: inout Set<String>) {
        if field == "cur" {
            out.insert("/cur")
            return
        }
        for (s, seatbid) in (document["seatbid"]?.arrayValue ?? []).enumerated() {
            for (i, bid) in (seatbid["bid"]?.arrayValue ?? []).enumerated() where bid["impid"].map(text) == impression {
                switch field {
                case "bid": out.insert("/seatbid/\(s)/bid/\(i)")
                case "seat": out.insert("/seatbid/\(s)/seat")
                default: out.insert("/seatbid/\(s)/bid/\(i)/\(field)")
                }
            }
        }
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .number(let n): DecisionExtractor.format(n)
        default: JSONWriter.write(value)
        }
    }
}
