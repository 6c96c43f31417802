import ArgumentParser
import ShadowCore
import ShadowDiff

extension RulePreset: ExpressibleByArgument {}

/// The comparison rules, noise thresholds and gates of `diff` and `report`: defaults, then a
/// rules file, then these flags.
struct DiffRuleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Rules, noise thresholds and gates from a YAML or JSON file; flags override it.", valueName: "file"))
    var rulesFile: String?

    @Option(help: "Comparison rules: auto, openrtb, json or status (default: auto).")
    var rules: RulePreset?

    @Option(help: ArgumentHelp("Never compare fields at this JSON pointer; '*' is one segment, '**' any number (repeatable).", valueName: "path"))
    var ignore: [String] = []

    @Option(help: ArgumentHelp("Numbers at PATH are equal within VALUE (absolute) or VALUE% (relative), e.g. /price=1% (repeatable).", valueName: "path=value"))
    var tolerance: [String] = []

    @Option(help: ArgumentHelp("Compare the arrays at this path as sets: order does not count (repeatable).", valueName: "path"))
    var arraySet: [String] = []

    @Option(help: ArgumentHelp("Match the elements of the arrays at PATH by their MEMBER, e.g. /seatbid/*/bid=impid (repeatable).", valueName: "path=member"))
    var arrayKey: [String] = []

    @Option(help: ArgumentHelp("Also compare this response header (repeatable).", valueName: "name"))
    var header: [String] = []

    @Flag(help: "Compare status classes (2xx, 4xx, ...) instead of exact status codes.")
    var statusClasses = false

    @Option(help: "OpenRTB: relative price difference treated as equal (default 0.0001).")
    var priceTolerance: Double?

    @Option(help: "Noise: (rate - noise) / (rate + noise) must exceed this (default 0.2).")
    var noiseRelative: Double?

    @Option(help: "Noise: a difference must exceed the noise rate by this share of pairs (default 0.0003).")
    var noiseAbsolute: Double?

    @Option(help: "Gate: largest share of pairs (both sides answered) with a reported mismatch (default 0.001 = 0.1%).")
    var maxMismatchRate: Double?

    @Option(help: "Gate: largest excess of the candidate's error rate over the baseline's, at the 95% lower bound of its interval (default 0.001 = 0.1%).")
    var maxErrorRate: Double?

    @Option(help: "Gate: candidate p50 may exceed baseline p50 by this fraction (default 0.05)...")
    var maxP50Regression: Double?

    @Option(help: "...or by this many milliseconds, whichever is larger (default 0.5).")
    var minP50RegressionMs: Double?

    @Option(help: "Gate: candidate p99 may exceed baseline p99 by this fraction (default 0.05)...")
    var maxP99Regression: Double?

    @Option(help: "...or by this many milliseconds, whichever is larger (default 1).")
    var minP99RegressionMs: Double?

    @Option(help: "Bootstrap resamples for latency intervals (default 1000).")
    var bootstrap: Int?

    @Option(help: "Seed of the bootstrap, for reproducible intervals (default 1).")
    var seed: UInt64?

    @Option(help: "Example exchanges kept per mismatch group (default 5).")
    var examples: Int?

    func validate() throws {
        let fractions = [("--max-mismatch-rate", maxMismatchRate), ("--max-error-rate", maxErrorRate), ("--max-p50-regression", maxP50Regression),
                         ("--max-p99-regression", maxP99Regression), ("--price-tolerance", priceTolerance),
                         ("--min-p50-regression-ms", minP50RegressionMs), ("--min-p99-regression-ms", minP99RegressionMs),
                         ("--noise-relative", noiseRelative), ("--noise-absolute", noiseAbsolute)]
        for (flag, value) in fractions {
            if let value, !(value >= 0) || !value.isFinite {
                throw ShadowError.invalidArgument(flag: flag, detail: "must be a non-negative number, got \(value)")
            }
        }
        if let bootstrap, !(100...100_000).contains(bootstrap) {
            throw ShadowError.invalidArgument(flag: "--bootstrap", detail: "must be within 100...100000, got \(bootstrap)")
        }
        if let examples, !(0...10_000).contains(examples) {
            throw ShadowError.invalidArgument(flag: "--examples", detail: "must be within 0...10000, got \(examples)")
        }
    }

    /// Defaults, then the rules file, then flags; errors name the file and line or the flag.
    func effectiveRules(base: DiffRules) throws -> DiffRules {
        var r = base
        if let rulesFile {
            do {
                r = try RulesFile.load(path: rulesFile, over: r)
            } catch {
                throw ShadowError.invalidArgument(flag: "--rules-file", detail: error.description)
            }
        }
        func pattern(_ text: String, _ flag: String) throws -> PathPattern {
            do { return try PathPattern(text) } catch { throw ShadowError.invalidArgument(flag: flag, detail: error.description) }
        }
        func split(_ text: String, _ flag: String) throws -> (PathPattern, String) {
            guard let eq = text.lastIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
                throw ShadowError.invalidArgument(flag: flag, detail: "expected PATH=VALUE, got '\(text)'")
            }
            return (try pattern(String(text[..<eq]), flag), String(text[text.index(after: eq)...]))
        }
        if let rules { r.preset = rules }
        r.ignore += try ignore.map { try pattern($0, "--ignore") }
        for item in tolerance {
            let (path, value) = try split(item, "--tolerance")
            let relative = value.hasSuffix("%")
            guard let number = Double(relative ? String(value.dropLast()) : value), number >= 0, number.isFinite else {
                throw ShadowError.invalidArgument(flag: "--tolerance", detail: "'\(value)' is not a non-negative number or percentage")
            }
            r.tolerances.append(relative ? NumericTolerance(path: path, relative: number / 100) : NumericTolerance(path: path, absolute: number))
        }
        r.arrays += try arraySet.map { ArrayRule(path: try pattern($0, "--array-set"), mode: .set) }
        for item in arrayKey {
            let (path, member) = try split(item, "--array-key")
            r.arrays.append(ArrayRule(path: path, mode: .keyed(by: member)))
        }
        r.headers += header
        if statusClasses { r.statusClasses = true }
        if let priceTolerance { r.priceTolerance = priceTolerance }
        if let noiseRelative { r.noise.relative = noiseRelative }
        if let noiseAbsolute { r.noise.absolute = noiseAbsolute }
        if let maxMismatchRate { r.maxMismatchRate = maxMismatchRate }
        if let maxErrorRate { r.maxErrorRate = maxErrorRate }
        func gate(_ percentile: Double, relative: Double?, absoluteMs: Double?) {
            guard relative != nil || absoluteMs != nil else { return }
            let index = r.latency.firstIndex { $0.percentile == percentile } ?? {
                r.latency.append(DiffRules.defaultLatency.first { $0.percentile == percentile }!)
                return r.latency.count - 1
            }()
            if let relative { r.latency[index].relative = relative }
            if let absoluteMs { r.latency[index].absoluteMs = absoluteMs }
        }
        gate(0.5, relative: maxP50Regression, absoluteMs: minP50RegressionMs)
        gate(0.99, relative: maxP99Regression, absoluteMs: minP99RegressionMs)
        if let bootstrap { r.bootstrapResamples = bootstrap }
        if let seed { r.seed = seed }
        if let examples { r.examplesPerGroup = examples }
        return r
    }
}
