import Foundation
import ShadowDiff

/// A JSON document laid out one member or element per line, two spaces per level, for reading
/// side by side. A line is marked when its value's pointer, or a pointer it lies within, is in
/// `marked` (as `MismatchLocator` finds them).
enum PrettyJSON {
    struct Line: Equatable {
        var text: String
        var marked: Bool
    }

    /// At most `maxLines` lines; `omitted` counts the lines left out.
    static func lines(_ value: JSONValue, marked: Set<String>, maxLines: Int = 2_000) -> (lines: [Line], omitted: Int) {
        var layout = Layout(marked: marked, maxLines: maxLines)
        layout.value(value, key: nil, pointer: "", depth: 0, inMarked: false, last: true)
        return (layout.lines, layout.omitted)
    }

    private struct Layout {
        let marked: Set<String>
        let maxLines: Int
        var lines: [Line] = []
        var omitted = 0

        mutating func emit(_ text: String, depth: Int, marked: Bool) {
            guard lines.count < maxLines else {
                omitted += 1
                return
            }
            lines.append(Line(text: String(repeating: "  ", count: depth) + text, marked: marked))
        }

        mutating func value(_ v: JSONValue, key: String?, pointer: String, depth: Int, inMarked: Bool, last: Bool) {
            let isMarked = inMarked || marked.contains(pointer)
            let prefix = key.map { JSONValue.quoted($0) + ": " } ?? ""
            let comma = last ? "" : ","
            switch v {
            case .object(let members) where !members.isEmpty:
                emit(prefix + "{", depth: depth, marked: isMarked)
                for (i, m) in members.enumerated() {
                    value(m.value, key: m.key, pointer: pointer + "/" + escape(m.key), depth: depth + 1, inMarked: isMarked,
                          last: i == members.count - 1)
                }
                emit("}" + comma, depth: depth, marked: isMarked)
            case .array(let items) where !items.isEmpty:
                emit(prefix + "[", depth: depth, marked: isMarked)
                for (i, item) in items.enumerated() {
                    value(item, key: nil, pointer: pointer + "/\(i)", depth: depth + 1, inMarked: isMarked, last: i == items.count - 1)
                }
                emit("]" + comma, depth: depth, marked: isMarked)
            default:
                emit(prefix + v.jsonText + comma, depth: depth, marked: isMarked)
            }
        }

        /// RFC 6901: `~` as `~0`, `/` as `~1`.
        private func escape(_ key: String) -> String {
            key.contains("~") || key.contains("/") ? key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") : key
        }
    }
}
