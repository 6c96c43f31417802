/// Escaping for text placed in HTML and SVG. Every byte the reports show came from a capture or
/// a target and is untrusted: it goes through `escape` (text and attribute values alike) and
/// through `readable` first when it may not be UTF-8.
public enum HTMLText {
    /// `&`, `<`, `>`, `"` and `'` as entities, so the result is inert in element content and in
    /// quoted attribute values. Control characters other than tab and newline become visible
    /// `\u{2400}`-block symbols, and DEL, C1 controls, U+FFFE and U+FFFF become U+FFFD, so
    /// they cannot confuse a parser (HTML, SVG or XML) or a terminal.
    public static func escape(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case "\r": break
            default: out.unicodeScalars.append(visibleStandIn(for: scalar) ?? scalar)
            }
        }
        return out
    }

    /// What an untrusted control character is shown as: a C0 control as its U+2400-block symbol;
    /// DEL, a C1 control, U+FFFE or U+FFFF as U+FFFD; nil for every other scalar (shown as is).
    static func visibleStandIn(for scalar: Unicode.Scalar) -> Unicode.Scalar? {
        switch scalar.value {
        case 0..<0x20: Unicode.Scalar(0x2400 + scalar.value)
        case 0x7F..<0xA0, 0xFFFE, 0xFFFF: "\u{FFFD}"
        default: nil
        }
    }

    /// Bytes as text: valid UTF-8 as is; otherwise each invalid byte is shown as `\xNN`, so a
    /// reviewer sees what was sent instead of replacement characters.
    public static func readable(_ bytes: some Collection<UInt8>) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let all = Array(bytes)
        var out = ""
        var i = 0
        while i < all.count {
            let length = sequenceLength(all, at: i)
            if length > 0 {
                out += String(decoding: all[i..<(i + length)], as: UTF8.self)
                i += length
            } else {
                out += "\\x" + String(all[i], radix: 16, uppercase: true).leftPadded(2)
                i += 1
            }
        }
        return out
    }

    /// The length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there does not
    /// start one.
    private static func sequenceLength(_ b: [UInt8], at i: Int) -> Int {
        let lead = b[i]
        let length: Int
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard i + length <= b.count else { return 0 }
        return String(validating: b[i..<(i + length)], as: UTF8.self) == nil ? 0 : length
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
