/// Structural comparison of two JSON documents under `DiffRules`: ignored paths, numeric
/// tolerances, and arrays compared in order, as sets, or keyed by a member.
///
/// Contract: reports at most `limit` mismatches (then sets `truncated`); recursion is bounded by
/// `JSONParser.maxDepth`; every path in a mismatch is a JSON pointer, and `field` is the same
/// pointer with array positions and keys replaced by `*`.
struct JSONComparer {
    let rules: DiffRules
    let limit: Int
    private(set) var mismatches: [Mismatch] = []
    private(set) var truncated = false
    private var path: [String] = []
    private var template: [String] = []

    init(rules: DiffRules, limit: Int = 64) {
        self.rules = rules
        self.limit = limit
    }

    /// Compares `a` and `b` as the documents at `prefix` (segments, empty for the root).
    mutating func compare(_ a: JSONValue?, _ b: JSONValue?, at prefix: [String] = [], template prefixTemplate: [String]? = nil) {
        path = prefix
        template = prefixTemplate ?? prefix
        walk(a, b)
    }

    private mutating func walk(_ a: JSONValue?, _ b: JSONValue?) {
        guard !rules.ignores(path) else { return }
        switch (a, b) {
        case let (.object(left)?, .object(right)?):
            let rightIndex = right.count > 8 ? Dictionary(right.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }) : nil
            func lookup(_ key: String) -> JSONValue? {
                rightIndex.map { $0[key] } ?? right.first { $0.key == key }?.value
            }
            for member in left {
                descend(member.key, member.key) { $0.walk(member.value, lookup(member.key)) }
            }
            let leftKeys = left.count > 8 ? Set(left.map(\.key)) : nil
            for member in right where !(leftKeys?.contains(member.key) ?? left.contains { $0.key == member.key }) {
                descend(member.key, member.key) { $0.walk(nil, member.value) }
            }
        case let (.array(left)?, .array(right)?):
            switch rules.arrayMode(at: path) {
            case .ordered:
                for i in 0..<max(left.count, right.count) {
                    descend(String(i), "*") { $0.walk(i < left.count ? left[i] : nil, i < right.count ? right[i] : nil) }
                }
            case .set:
                compareAsSets(left, right)
            case .keyed(let key):
                compareKeyed(left, right, by: key)
            }
        case let (.number(x)?, .number(y)?):
            if x != y, !(rules.tolerance(at: path)?.equal(x, y) ?? false) { report(a, b) }
        default:
            if a != b { report(a, b) }
        }
    }

    private mutating func descend(_ segment: String, _ templateSegment: String, _ body: (inout JSONComparer) -> Void) {
        guard mismatches.count < limit else {
            truncated = true
            return
        }
        path.append(segment)
        template.append(templateSegment)
        body(&self)
        path.removeLast()
        template.removeLast()
    }

    private mutating func report(_ a: JSONValue?, _ b: JSONValue?) {
        guard mismatches.count < limit else {
            truncated = true
            return
        }
        let field = jsonPointer(template)
        let concrete = jsonPointer(path)
        mismatches.append(Mismatch(
            kind: .field, field: field, path: concrete == field ? nil : concrete,
            left: a?.preview() ?? "(absent)", right: b?.preview() ?? "(absent)"))
    }

    /// Multisets by canonical text: one mismatch at the array listing what only one side has.
    private mutating func compareAsSets(_ left: [JSONValue], _ right: [JSONValue]) {
        var counts: [String: Int] = [:]
        for item in left { counts[JSONWriter.canonical(item), default: 0] += 1 }
        for item in right { counts[JSONWriter.canonical(item), default: 0] -= 1 }
        guard counts.values.contains(where: { $0 != 0 }) else { return }
        func only(_ sign: Int) -> String {
            let items = counts.filter { $0.value * sign > 0 }.sorted { $0.key < $1.key }
                .flatMap { Array(repeating: $0.key, count: abs($0.value)) }
            let text = items.isEmpty ? "(none)" : "only " + items.joined(separator: ",")
            return text.count <= 80 ? text : String(text.prefix(80)) + "…"
        }
        guard mismatches.count < limit else {
            truncated = true
            return
        }
        let field = jsonPointer(template), concrete = jsonPointer(path)
        mismatches.append(Mismatch(kind: .field, field: field, path: concrete == field ? nil : concrete, left: only(1), right: only(-1)))
    }

    /// Elements matched by the value of member `key`; elements without it are matched by position
    /// among themselves, and repeated keys by order of appearance.
    private mutating func compareKeyed(_ left: [JSONValue], _ right: [JSONValue], by key: String) {
        func keyed(_ items: [JSONValue]) -> [(String, JSONValue)] {
            var seen: [String: Int] = [:]
            var unkeyed = 0
            return items.map { item in
                var name: String
                if let value = item[key] {
                    name = value.stringValue ?? JSONWriter.write(value)
                } else {
                    unkeyed += 1
                    name = "#\(unkeyed)"
                }
                let repeats = seen[name, default: 0]
                seen[name] = repeats + 1
                if repeats > 0 { name += "#\(repeats + 1)" }
                return (name, item)
            }
        }
        let l = keyed(left), r = keyed(right)
        let rightByKey = Dictionary(r, uniquingKeysWith: { first, _ in first })
        let leftKeys = Set(l.map(\.0))
        for (name, item) in l {
            descend(name, "*") { $0.walk(item, rightByKey[name]) }
        }
        for (name, item) in r where !leftKeys.contains(name) {
            descend(name, "*") { $0.walk(nil, item) }
        }
    }
}

extension JSONWriter {
    /// Compact JSON with object members sorted by key, so equal values have equal text.
    static func canonical(_ value: JSONValue) -> String {
        write(sorted(value))
    }

    private static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): .array(items.map(sorted))
        case .object(let members): .object(members.map { ($0.key, sorted($0.value)) }.sorted { $0.key < $1.key })
        default: value
        }
    }
}
