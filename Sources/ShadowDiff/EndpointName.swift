/// Names the endpoint a request went to: its method and path template.
///
/// Path segments that are identifiers become placeholders so one endpoint is not split per id:
/// all digits → `{n}`; 16 or more hex digits and dashes, or a UUID → `{id}`. The query is dropped.
public enum EndpointName {
    public static func of(method: String, path: Substring) -> String {
        var out = method
        out += " "
        if path.isEmpty {
            out += "/"
            return out
        }
        var first = true
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            if !first { out += "/" }
            first = false
            out += placeholder(for: segment) ?? String(segment)
        }
        return out
    }

    private static func placeholder(for segment: Substring) -> String? {
        guard !segment.isEmpty else { return nil }
        if segment.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return "{n}" }
        let hexish = segment.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) || $0 == 0x2D }
        if hexish && segment.utf8.count >= 16 && segment.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) { return "{id}" }
        return nil
    }
}
