import Foundation
import ShadowStats
import Testing

/// fixtures/stats/reference.json, written by fixtures/stats/make_reference.py (SciPy/NumPy).
struct Reference: Decodable {
    struct PercentileEntry: Decodable {
        var label: String
        var numpy: Int64
        var exact: Int64
        var numpyFloatArtifact: Bool
        var reported: Bool
    }

    struct SciPyRun: Decodable {
        var method: String
        var alternative: String
        var statistic: Double
        var pvalue: Double
        var zstatistic: Double?
    }

    struct Tails: Decodable {
        var greater: Double
        var twoSided: Double
    }

    struct Wilcoxon: Decodable {
        var n: Int
        var zeros: Int
        var hasTies: Bool
        var rankSumPositive: Double
        var rankSumNegative: Double
        var autoMethod: String
        var scipy: [SciPyRun]
        var exactRational: Tails?
        var signFlipRational: Tails?
    }

    struct HodgesLehmannEntry: Decodable {
        var n: Int
        var method: String?
        var lowerRank: Int?
        var estimate: Double?
        var low: Double?
        var high: Double?
    }

    struct BootstrapEntry: Decodable {
        var label: String
        var reported: Bool
        var estimate: Double?
        var resamples: Int?
        var low: Double?
        var high: Double?
        var lowSpread: Double?
        var highSpread: Double?
    }

    struct Case: Decodable {
        var name: String
        var note: String
        var differences: [Int64]?
        var baseline: [Int64]?
        var candidate: [Int64]?
        var values: [Int64]?
        var percentiles: [String: [PercentileEntry]]?
        var wilcoxon: Wilcoxon?
        var hodgesLehmann: HodgesLehmannEntry?
        var bootstrap: [BootstrapEntry]?

        /// d = candidate − baseline, or the stored differences.
        var pairedDifferences: [Int64]? {
            if let differences { return differences }
            guard let baseline, let candidate else { return nil }
            return zip(candidate, baseline).map { $0 - $1 }
        }
    }

    var scipy: String
    var numpy: String
    var confidenceLevel: Double
    var cases: [Case]

    static let shared: Reference = {
        let url = repositoryRoot().appendingPathComponent("fixtures/stats/reference.json")
        do {
            return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }()

    static func repositoryRoot(file: String = #filePath) -> URL {
        // Tests/ShadowStatsTests/<this file> → repository root.
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// |actual − expected| <= relative·|expected| (+ absolute).
func close(_ actual: Double, _ expected: Double, relative: Double = 1e-9, absolute: Double = 0) -> Bool {
    abs(actual - expected) <= relative * abs(expected) + absolute
}

@Suite struct SciPyReferenceTests {
    let reference = Reference.shared

    @Test func fixtureIsPresentAndSmall() throws {
        let url = Reference.repositoryRoot().appendingPathComponent("fixtures/stats/reference.json")
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
        #expect(size > 0 && size < 200_000)
        #expect(reference.cases.count >= 12)
    }

    /// Nearest-rank percentiles equal numpy's inverted_cdf, except where numpy's own floating-point
    /// product n · (99.9/100) lands just above an integer (flagged by the generator); there they
    /// equal the exact nearest rank ceil(p·n).
    @Test func percentilesMatchNumPyInvertedCDF() {
        var artifacts = 0
        for testCase in reference.cases {
            let sides: [(String, [Int64]?)] = [("baseline", testCase.baseline), ("candidate", testCase.candidate),
                                              ("values", testCase.values)]
            for (side, values) in sides {
                guard let values, let entries = testCase.percentiles?[side] else { continue }
                let sorted = values.sorted()
                let summary = LatencySummary(sorted: sorted)
                for entry in entries {
                    let level = Percentile(label: entry.label)!
                    let ours = Percentiles.nearestRank(level, ofSorted: sorted)
                    #expect(ours == entry.exact, "\(testCase.name) \(side) \(entry.label)")
                    if entry.numpyFloatArtifact {
                        artifacts += 1
                    } else {
                        #expect(ours == entry.numpy, "\(testCase.name) \(side) \(entry.label)")
                    }
                    #expect(summary.valueNs(at: level) == (entry.reported ? entry.exact : nil),
                            "\(testCase.name) \(side) \(entry.label) reported")
                }
            }
        }
        #expect(artifacts == 1)  // percentiles-2000: numpy p99.9 takes rank 1999 instead of 1998
    }

    @Test func wilcoxonMatchesSciPy() throws {
        var checked = 0
        for testCase in reference.cases {
            guard let expected = testCase.wilcoxon, let d = testCase.pairedDifferences else { continue }
            let auto = WilcoxonSignedRank(differences: d)
            #expect(auto.pairCount == expected.n)
            #expect(auto.zeroDifferences == expected.zeros, "\(testCase.name)")
            #expect(auto.hasTies == expected.hasTies, "\(testCase.name)")
            #expect(auto.rankSumPositive == expected.rankSumPositive, "\(testCase.name)")
            #expect(auto.rankSumNegative == expected.rankSumNegative, "\(testCase.name)")
            #expect(auto.method.rawValue == expected.autoMethod, "\(testCase.name)")

            for run in expected.scipy {
                let method = WilcoxonSignedRank.Method(rawValue: run.method)!
                let ours = WilcoxonSignedRank(differences: d, method: method)
                let label = "\(testCase.name) \(run.method) \(run.alternative)"
                let twoSided = run.alternative == "two-sided"
                #expect((twoSided ? ours.statistic : ours.rankSumPositive) == run.statistic, "\(label)")
                let p = twoSided ? ours.pValueTwoSided : ours.pValueGreater
                // SciPy's exact upper tail is 1 − cdf for W+ above the mean, which keeps only
                // ~1e-16 absolute accuracy; everything else agrees to 1e-9 relative.
                #expect(close(p, run.pvalue, relative: 1e-9, absolute: 1e-15), "\(label): \(p) vs \(run.pvalue)")
                if let z = run.zstatistic {
                    let ourZ = try #require(ours.z)
                    // SciPy reports −|z| for two-sided asymptotic tests and z for one-sided ones.
                    #expect(close(twoSided ? -abs(ourZ) : ourZ, z, relative: 1e-12), "\(label) z")
                }
                checked += 1
            }
            // Exact paths against exact rational arithmetic: 1e-12 relative, even in the far tail.
            if let rational = expected.exactRational {
                let ours = WilcoxonSignedRank(differences: d, method: .exact)
                #expect(close(ours.pValueGreater, rational.greater, relative: 1e-12), "\(testCase.name) exact")
                #expect(close(ours.pValueTwoSided, rational.twoSided, relative: 1e-12), "\(testCase.name) exact")
            }
            if let rational = expected.signFlipRational, auto.method == .exactPermutation {
                #expect(close(auto.pValueGreater, rational.greater, relative: 1e-12), "\(testCase.name) sign flip")
                #expect(close(auto.pValueTwoSided, rational.twoSided, relative: 1e-12), "\(testCase.name) sign flip")
            }
        }
        #expect(checked >= 60)
    }

    /// Brute force over all Walsh averages in the generator; ours never lists them.
    @Test func hodgesLehmannMatchesBruteForce() {
        var intervals = 0
        for testCase in reference.cases {
            guard let expected = testCase.hodgesLehmann, let d = testCase.pairedDifferences else { continue }
            let ours = HodgesLehmann(differences: d, confidenceLevel: reference.confidenceLevel)
            #expect(ours.pairCount == expected.n)
            #expect(ours.estimateNs == expected.estimate, "\(testCase.name)")
            if let low = expected.low, let high = expected.high {
                #expect(ours.lowerRank == expected.lowerRank, "\(testCase.name)")
                #expect(ours.intervalMethod?.rawValue == expected.method, "\(testCase.name)")
                #expect(ours.lowNs == low, "\(testCase.name)")
                #expect(ours.highNs == high, "\(testCase.name)")
                intervals += 1
            } else {
                #expect(ours.lowNs == nil && ours.highNs == nil && ours.unavailableReason != nil, "\(testCase.name)")
            }
        }
        #expect(intervals >= 10)
    }

    /// SciPy's `bootstrap(paired=True, method="percentile")` uses another generator, so the
    /// intervals can only agree up to Monte-Carlo noise. With B = 9999 on both sides, the
    /// difference of two independent endpoint estimates has a standard deviation of about
    /// √2 · spread (spread = SD of SciPy's endpoint over 20 seeds); we allow 6 of those.
    @Test func bootstrapIntervalsAgreeWithSciPyWithinMonteCarloNoise() throws {
        var compared = 0
        for testCase in reference.cases {
            guard let entries = testCase.bootstrap, let baseline = testCase.baseline,
                  let candidate = testCase.candidate else { continue }
            let levels = entries.map { Percentile(label: $0.label)! }
            let run = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: levels,
                                      configuration: .init(resamples: 9999, seed: 7))
            for entry in entries {
                let level = Percentile(label: entry.label)!
                guard entry.reported else {
                    #expect(run.delta(for: level) == nil, "\(testCase.name) \(entry.label)")
                    continue
                }
                let delta = try #require(run.delta(for: level))
                #expect(Double(delta.estimateNs) == entry.estimate, "\(testCase.name) \(entry.label)")
                let interval = delta.interval(confidenceLevel: reference.confidenceLevel)
                let lowTolerance = 6 * 2.0.squareRoot() * entry.lowSpread!
                let highTolerance = 6 * 2.0.squareRoot() * entry.highSpread!
                #expect(abs(interval.lowNs - entry.low!) <= lowTolerance,
                        "\(testCase.name) \(entry.label) low \(interval.lowNs) vs SciPy \(entry.low!) ± \(lowTolerance)")
                #expect(abs(interval.highNs - entry.high!) <= highTolerance,
                        "\(testCase.name) \(entry.label) high \(interval.highNs) vs SciPy \(entry.high!) ± \(highTolerance)")
                compared += 1
            }
        }
        #expect(compared >= 3)
    }
}
