import Foundation
import Yams

/// Reads a rules file: YAML, or JSON (which YAML 1.2 reads too). Unknown keys, wrong types and
/// invalid paths are errors naming the file and line, never ignored.
///
/// ```yaml
/// preset: json                  # auto | openrtb | json | status
/// ignore: [/id, /bidid, /ext/**, /seatbid/*/bid/*/id]
/// tolerances:
///   - {path: /seatbid/*/bid/*/price, relative: 0.001, absolute: 0}
/// arrays:
///   - {path: /seatbid/*/bid, compare: keyed, key: impid}
///   - {path: /seatbid/*/bid/*/adomain, compare: set}
/// headers: [Content-Type]
/// status_classes: false
/// price_tolerance: 0.0001
/// noise: {relative: 0.2, absolute: 0.0003}
/// gates:
///   max_mismatch_rate: 0.001
///   max_error_rate: 0.001
///   latency:
///     - {percentile: 99, relative: 0.05, absolute_ms: 1}
///     - {percentile: 50, relative: 0.05, absolute_ms: 0.5}
/// bootstrap: {resamples: 1000, seed: 1}
/// examples: 5
/// ```
public enum RulesFile {
    /// The rules of the file at `path`, applied over `base`.
    public static func load(path: String, over base: DiffRules = DiffRules()) throws(RulesFileError) -> DiffRules {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RulesFileError(file: path, line: nil, detail: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RulesFileError(file: path, line: nil, detail: "not UTF-8 text")
        }
        return try parse(text, file: path, over: base)
    }

    /// The rules in `text` (named `file` in errors), applied over `base`.
    public static func parse(_ text: String, file: String, over base: DiffRules = DiffRules()) throws(RulesFileError) -> DiffRules {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            let (line, problem) = error.lineAndProblem
            throw RulesFileError(file: file, line: line, detail: "not valid YAML or JSON: \(problem)")
        } catch {
            throw RulesFileError(file: file, line: nil, detail: "not valid YAML or JSON: \(error)")
        }
        guard let root else { return base }
        var reader = Reader(file: file)
        return try reader.rules(root, over: base)
    }

    private struct Reader {
        let file: String

        func fail(_ node: Node, _ detail: String) -> RulesFileError {
            RulesFileError(file: file, line: node.mark?.line, detail: detail)
        }

        func mapping(_ node: Node, _ what: String, keys: [String]) throws(RulesFileError) -> [(key: String, value: Node)] {
            guard case .mapping(let mapping) = node else { throw fail(node, "\(what) must be a mapping of \(keys.joined(separator: ", "))") }
            var out: [(String, Node)] = []
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { throw fail(keyNode, "keys of \(what) must be text") }
                guard keys.contains(key) else {
                    throw fail(keyNode, "unknown key '\(key)' in \(what) (known: \(keys.joined(separator: ", ")))")
                }
                out.append((key, value))
            }
            return out
        }

        func list(_ node: Node, _ what: String) throws(RulesFileError) -> [Node] {
            switch node {
            case .sequence(let sequence): return Array(sequence)
            case .scalar where node.string != nil && node.tag.description.hasSuffix(":null") == false: return [node]
            default: throw fail(node, "\(what) must be a list")
            }
        }

        func text(_ node: Node, _ what: String) throws(RulesFileError) -> String {
            guard case .scalar(let scalar) = node else { throw fail(node, "\(what) must be text") }
            return scalar.string
        }

        func number(_ node: Node, _ what: String, atLeast minimum: Double = 0) throws(RulesFileError) -> Double {
            guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite, value >= minimum else {
                throw fail(node, "\(what) must be a number ≥ \(minimum.formatted()), got '\(node.string ?? "?")'")
            }
            return value
        }

        func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>) throws(RulesFileError) -> Int {
            guard case .scalar(let scalar) = node, let value = Int(scalar.string), range.contains(value) else {
                throw fail(node, "\(what) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(node.string ?? "?")'")
            }
            return value
        }

        func bool(_ node: Node, _ what: String) throws(RulesFileError) -> Bool {
            switch node.string?.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw fail(node, "\(what) must be true or false, got '\(node.string ?? "?")'")
            }
        }

        func path(_ node: Node, _ what: String) throws(RulesFileError) -> PathPattern {
            let text = try text(node, what)
            do {
                return try PathPattern(text)
            } catch {
                throw fail(node, "\(what): \(error.description)")
            }
        }

        mutating func rules(_ root: Node, over base: DiffRules) throws(RulesFileError) -> DiffRules {
            var rules = base
            let keys = ["preset", "ignore", "tolerances", "arrays", "headers", "status_classes", "price_tolerance", "noise",
                        "gates", "bootstrap", "examples"]
            for (key, value) in try mapping(root, "the rules file", keys: keys) {
                switch key {
                case "preset":
                    let name = try text(value, "preset")
                    guard let preset = RulePreset(rawValue: name) else {
                        throw fail(value, "unknown preset '\(name)' (known: \(RulePreset.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    rules.preset = preset
                case "ignore":
                    for item in try list(value, "ignore") { rules.ignore.append(try path(item, "ignore")) }
                case "tolerances":
                    for item in try list(value, "tolerances") { rules.tolerances.append(try tolerance(item)) }
                case "arrays":
                    for item in try list(value, "arrays") { rules.arrays.append(try array(item)) }
                case "headers":
                    for item in try list(value, "headers") { rules.headers.append(try text(item, "headers")) }
                case "status_classes":
                    rules.statusClasses = try bool(value, "status_classes")
                case "price_tolerance":
                    rules.priceTolerance = try number(value, "price_tolerance")
                case "noise":
                    for (k, v) in try mapping(value, "noise", keys: ["relative", "absolute"]) {
                        if k == "relative" { rules.noise.relative = try number(v, "noise.relative") }
                        else { rules.noise.absolute = try number(v, "noise.absolute") }
                    }
                case "gates":
                    for (k, v) in try mapping(value, "gates", keys: ["max_mismatch_rate", "max_error_rate", "latency"]) {
                        switch k {
                        case "max_mismatch_rate": rules.maxMismatchRate = try number(v, "gates.max_mismatch_rate")
                        case "max_error_rate": rules.maxErrorRate = try number(v, "gates.max_error_rate")
                        default: rules.latency = try list(v, "gates.latency").map { (n) throws(RulesFileError) in try latency(n) }
                        }
                    }
                case "bootstrap":
                    for (k, v) in try mapping(value, "bootstrap", keys: ["resamples", "seed"]) {
                        if k == "resamples" { rules.bootstrapResamples = try integer(v, "bootstrap.resamples", in: 100...100_000) }
                        else { rules.seed = UInt64(try integer(v, "bootstrap.seed", in: 0...Int.max)) }
                    }
                default:
                    rules.examplesPerGroup = try integer(value, "examples", in: 0...10_000)
                }
            }
            return rules
        }

        func tolerance(_ node: Node) throws(RulesFileError) -> NumericTolerance {
            var pattern: PathPattern?
            var absolute = 0.0, relative = 0.0
            for (key, value) in try mapping(node, "a tolerance", keys: ["path", "absolute", "relative"]) {
                switch key {
                case "path": pattern = try path(value, "tolerance path")
                case "absolute": absolute = try number(value, "tolerance absolute")
                default: relative = try number(value, "tolerance relative")
                }
            }
            guard let pattern else { throw fail(node, "a tolerance needs a path") }
            return NumericTolerance(path: pattern, absolute: absolute, relative: relative)
        }

        func array(_ node: Node) throws(RulesFileError) -> ArrayRule {
            var pattern: PathPattern?
            var compare: String?
            var key: String?
            for (k, value) in try mapping(node, "an array rule", keys: ["path", "compare", "key"]) {
                switch k {
                case "path": pattern = try path(value, "array path")
                case "compare": compare = try text(value, "compare")
                default: key = try text(value, "key")
                }
            }
            guard let pattern else { throw fail(node, "an array rule needs a path") }
            switch (compare, key) {
            case ("ordered", nil), (nil, nil): return ArrayRule(path: pattern, mode: .ordered)
            case ("set", nil): return ArrayRule(path: pattern, mode: .set)
            case let ("keyed", key?), let (nil, key?): return ArrayRule(path: pattern, mode: .keyed(by: key))
            case ("keyed", nil): throw fail(node, "compare: keyed needs a key (the member that identifies an element)")
            case let (compare?, nil): throw fail(node, "unknown compare '\(compare)' (known: ordered, set, keyed)")
            case (_, _?): throw fail(node, "key only goes with compare: keyed")
            }
        }

        func latency(_ node: Node) throws(RulesFileError) -> LatencyThreshold {
            var out = LatencyThreshold(percentile: 0, relative: 0, absoluteMs: 0)
            for (k, v) in try mapping(node, "a latency gate", keys: ["percentile", "relative", "absolute_ms"]) {
                switch k {
                case "percentile":
                    let p = try number(v, "percentile")
                    guard p > 0 && p < 100 else { throw fail(v, "percentile must be between 0 and 100 (99 for p99), got \(p)") }
                    out.percentile = p / 100
                case "relative": out.relative = try number(v, "relative")
                default: out.absoluteMs = try number(v, "absolute_ms")
                }
            }
            guard out.percentile > 0 else { throw fail(node, "a latency gate needs a percentile") }
            return out
        }
    }
}

extension YamlError {
    /// The 1-based line of the problem where Yams knows it, and its description.
    fileprivate var lineAndProblem: (Int?, String) {
        switch self {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            (mark.line, problem)
        case let .reader(problem, _, _, _):
            (nil, problem)
        default:
            (nil, String(describing: self))
        }
    }
}

/// A rules file that cannot be used: which file, which line, what is wrong.
public struct RulesFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var detail: String
    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(detail)" }
}
