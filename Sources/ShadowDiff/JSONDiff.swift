/// One difference between two JSON documents at a JSON pointer.
public struct FieldDifference: Sendable, Hashable {
    /// JSON pointer of the differing value, e.g. `/seatbid/0/bid/1/price`.
    public var path: String
    /// The path with array indices replaced by `*`, for grouping: `/seatbid/*/bid/*/price`.
    public var template: String
    /// Short previews; nil where the value is absent on that side.
    public var baseline: String?
    public var candidate: String?
}

/// Structural comparison of two JSON documents, member by member and index by index.
public enum JSONDiff {
    /// Differences between `a` and `b`, at most `limit` of them, skipping any path whose
    /// template is in `ignoring`.
    public static func differences(
        _ a: JSONValue, _ b: JSONValue, ignoring: Set<String> = [], limit: Int = 64
    ) -> [FieldDifference] {
        var out: [FieldDifference] = []
        walk(a, b, path: "", template: "", ignoring: ignoring, limit: limit, into: &out)
        return out
    }

    private static func walk(
        _ a: JSONValue?, _ b: JSONValue?, path: String, template: String, ignoring: Set<String>, limit: Int,
        into out: inout [FieldDifference]
    ) {
        guard out.count < limit, !ignoring.contains(template) else { return }
        switch (a, b) {
        case let (.object(am)?, .object(bm)?):
            var seen = Set<String>()
            for (key, value) in am {
                seen.insert(key)
                let escaped = escape(key)
                walk(value, b?[key], path: path + "/" + escaped, template: template + "/" + escaped,
                     ignoring: ignoring, limit: limit, into: &out)
            }
            for (key, value) in bm where !seen.contains(key) {
                let escaped = escape(key)
                walk(nil, value, path: path + "/" + escaped, template: template + "/" + escaped,
                     ignoring: ignoring, limit: limit, into: &out)
            }
        case let (.array(ai)?, .array(bi)?):
            for i in 0..<max(ai.count, bi.count) {
                walk(i < ai.count ? ai[i] : nil, i < bi.count ? bi[i] : nil, path: path + "/\(i)", template: template + "/*",
                     ignoring: ignoring, limit: limit, into: &out)
            }
        default:
            if a != b {
                out.append(FieldDifference(
                    path: path.isEmpty ? "/" : path, template: template.isEmpty ? "/" : template,
                    baseline: a?.preview(), candidate: b?.preview()))
            }
        }
    }

    private static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
