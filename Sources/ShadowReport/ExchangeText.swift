import Foundation
import ShadowDiff

/// `shadowdiff show`: one exchange in the terminal, the request and then every side's answer,
/// differing lines marked `»` (and in red with `color`). Captured bytes never reach the terminal
/// as control characters.
public enum ExchangeText {
    public static func render(_ view: ExchangeView, color: Bool) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        func bold(_ text: String) -> String { color ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
        line(bold("exchange #\(view.exchangeID)") + (view.pass > 0 ? " pass \(view.pass)" : "")
            + "  \(safe(view.endpoint))  rules \(view.preset.rawValue)")
        line()
        part(view.request, into: &out, color: color, bold: bold)
        line(bold("differences against the baseline"))
        if view.mismatches.isEmpty { line("  none compared (no baseline answer)") }
        for (side, mismatches) in view.mismatches {
            if mismatches.isEmpty { line("  \(side.padding(10)) same as baseline") }
            for m in mismatches {
                let at = m.impression.map { " imp \($0)" } ?? m.path.map { " at \($0)" } ?? ""
                let (l, r) = side == "production" ? (m.right, m.left) : (m.left, m.right)
                line("  \(side.padding(10)) \(m.kind.rawValue) \(safe(m.field))\(safe(at)): baseline \(safe(l)), \(side) \(safe(r))")
            }
        }
        line()
        for answer in view.answers { part(answer, into: &out, color: color, bold: bold) }
        return out
    }

    private static func part(_ p: ExchangeView.Part, into out: inout String, color: Bool, bold: (String) -> String) {
        let latency = p.latencyNs.map { String(format: "  %.3f ms", Double($0) / 1e6) } ?? ""
        out += bold(p.name) + "  " + safe(p.title) + latency + "\n"
        for h in p.headers { out += "  \(safe(h.name)): \(safe(h.value))\n" }
        if !p.bodyNote.isEmpty { out += "  (\(safe(p.bodyNote)))\n" }
        let lines = p.bodyLines
        for (text, marked) in zip(lines, p.lines.map(\.marked)) {
            let shown = safe(text)
            if marked {
                out += color ? "\u{1B}[31m» \(shown)\u{1B}[0m\n" : "» \(shown)\n"
            } else {
                out += "  \(shown)\n"
            }
        }
        if p.omittedLines > 0 { out += "  ... \(p.omittedLines) more lines\n" }
        out += "\n"
    }

    /// Control characters (ESC included) as visible symbols, so captured bytes cannot drive the terminal.
    static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { HTMLText.visibleStandIn(for: $0) != nil }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\t" {
                out += "    "
            } else {
                out.unicodeScalars.append(HTMLText.visibleStandIn(for: scalar) ?? scalar)
            }
        }
        return out
    }
}
