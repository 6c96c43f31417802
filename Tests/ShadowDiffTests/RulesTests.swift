import Foundation
import Testing

@testable import ShadowDiff

@Suite struct PathPatternTests {
    @Test func wildcardsMatchOneOrManySegments() throws {
        let one = try PathPattern("/seatbid/*/bid/*/id")
        #expect(one.matches(["seatbid", "0", "bid", "3", "id"]))
        #expect(!one.matches(["seatbid", "0", "bid", "3", "id", "x"]))
        #expect(!one.matches(["seatbid", "0", "bid"]))
        let deep = try PathPattern("/ext/**")
        #expect(deep.matches(["ext"]))
        #expect(deep.matches(["ext", "a", "b"]))
        #expect(!deep.matches(["other"]))
        let anywhere = try PathPattern("/**/ts")
        #expect(anywhere.matches(["ts"]))
        #expect(anywhere.matches(["a", "b", "ts"]))
        #expect(!anywhere.matches(["a", "ts", "b"]))
    }

    @Test func escapesFollowRFC6901() throws {
        #expect(try PathPattern("/a~1b/c~0d").matches(["a/b", "c~d"]))
        #expect(jsonPointer(["a/b", "c~d"]) == "/a~1b/c~0d")
    }

    @Test(arguments: ["", "price", "/a/~2", "/a~"])
    func rejectsInvalidPatterns(_ text: String) {
        #expect(throws: PathPatternError.self) { try PathPattern(text) }
    }
}

@Suite struct RulesFileTests {
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/fixtures/rules/"
    }()

    @Test func readsEveryKeyOfTheYAMLExample() throws {
        let rules = try RulesFile.load(path: Self.directory + "example.yaml")
        #expect(rules.preset == .json)
        #expect(rules.ignore.map(\.text) == ["/id", "/bidid", "/ext/**", "/seatbid/*/bid/*/id", "/seatbid/*/bid/*/adm"])
        #expect(rules.tolerances == [NumericTolerance(path: try PathPattern("/seatbid/*/bid/*/price"), relative: 0.001)])
        #expect(rules.arrays.map(\.mode) == [.keyed(by: "impid"), .set, .set])
        #expect(rules.headers == ["Content-Type"])
        #expect(rules.maxMismatchRate == 0.001)
        #expect(rules.latency == [
            LatencyThreshold(percentile: 0.5, relative: 0.05, absoluteMs: 0.5),
            LatencyThreshold(percentile: 0.99, relative: 0.05, absoluteMs: 1),
        ])
        #expect(rules.bootstrapResamples == 1000 && rules.seed == 7 && rules.examplesPerGroup == 10)
    }

    @Test func readsJSONToo() throws {
        let rules = try RulesFile.load(path: Self.directory + "example.json")
        #expect(rules.preset == .openrtb)
        #expect(rules.ignore.map(\.text) == ["/imp/*/cat"])
        #expect(rules.priceTolerance == 0.01)
        #expect(rules.maxMismatchRate == 0.05)
        #expect(rules.latency == DiffRules.defaultLatency)
    }

    @Test(arguments: [
        ("preset: json\nignroe: [/a]\n", 2, "unknown key 'ignroe'"),
        ("ignore:\n  - /a\n  - price\n", 3, "must start with '/'"),
        ("ignore: [/a/~2]\n", 1, "'~' must be followed by 0 or 1"),
        ("preset: xml\n", 1, "unknown preset 'xml'"),
        ("arrays:\n  - {path: /a, compare: keyed}\n", 2, "needs a key"),
        ("arrays:\n  - {path: /a, compare: bag}\n", 2, "unknown compare 'bag'"),
        ("tolerances:\n  - {relative: 0.1}\n", 2, "needs a path"),
        ("noise: {relative: -1}\n", 1, "must be a number"),
        ("gates:\n  latency:\n    - {percentile: 100}\n", 3, "between 0 and 100"),
        ("{\"preset\": \"json\",\n \"ignore\": [1, }\n", 2, "not valid YAML or JSON"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ])
    func namesTheLineAndTheProblem(text: String, line: Int, detail: String) {
        do {
            _ = try RulesFile.parse(text, file: "r.yaml")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.line == line, "\(error.description)")
            #expect(error.description.hasPrefix("r.yaml:\(line): "), "\(error.description)")
            #expect(error.description.contains(detail), "\(error.description)")
        }
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: RulesFileError.self) { try RulesFile.load(path: "/nonexistent/rules.yaml") }
    }
}
