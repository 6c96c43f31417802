/// The mismatches of one comparison (e.g. baseline vs candidate) over a whole run, grouped by
/// endpoint, kind and field, with the combinations of groups seen per pair so that mismatched
/// pairs can be counted once significance is known.
struct ComparisonTally: Sendable {
    struct Key: Hashable, Sendable {
        var endpoint: String
        var kind: MismatchKind
        var field: String
    }

    struct Group: Sendable {
        var key: Key
        var count: Int64 = 0
        var exchanges: Int64 = 0
        var examples: [DiffSummary.Example] = []
    }

    /// What the two answers are called in examples, e.g. ("baseline", "candidate").
    let sides: (String, String)
    private(set) var pairs: Int64 = 0
    private var pairsPerEndpoint: [String: Int64] = [:]
    private var groupIDs: [Key: Int32] = [:]
    private var groups: [Group] = []
    /// Sorted group ids of a pair → how many pairs had exactly that combination.
    private var signatures: [[Int32]: Int64] = [:]
    /// Pairs with a mismatch whose combination was not tracked (past `maxSignatures`).
    private var untrackedMismatchedPairs: Int64 = 0
    private var truncatedPairs: Int64 = 0
    private var ungrouped: Int64 = 0

    init(sides: (String, String)) {
        self.sides = sides
    }

    mutating func add(_ mismatches: [Mismatch], truncated: Bool, at location: Location, examples: Int) {
        pairs += 1
        pairsPerEndpoint[location.endpoint, default: 0] += 1
        if truncated { truncatedPairs += 1 }
        guard !mismatches.isEmpty else { return }
        var seen: [Int32] = []
        for mismatch in mismatches {
            let key = Key(endpoint: location.endpoint, kind: mismatch.kind, field: mismatch.field)
            let id: Int32
            if let known = groupIDs[key] {
                id = known
            } else if groups.count < DiffAccumulator.maxGroups {
                id = Int32(groups.count)
                groupIDs[key] = id
                groups.append(Group(key: key))
            } else {
                ungrouped += 1
                continue
            }
            groups[Int(id)].count += 1
            guard !seen.contains(id) else { continue }
            seen.append(id)
            groups[Int(id)].exchanges += 1
            if groups[Int(id)].examples.count < examples {
                groups[Int(id)].examples.append(DiffSummary.Example(
                    exchange: location.exchange, pass: location.pass, impression: mismatch.impression, path: mismatch.path,
                    values: [sides.0: mismatch.left, sides.1: mismatch.right]))
            }
        }
        seen.sort()
        if signatures[seen] != nil || signatures.count < DiffAccumulator.maxSignatures {
            signatures[seen, default: 0] += 1
        } else {
            untrackedMismatchedPairs += 1
        }
    }

    struct Summary {
        var mismatched: Int64
        var groups: [DiffSummary.Group]
        var noisyGroups: [DiffSummary.Group]
        var kinds: [DiffSummary.KindCount]
        var truncated: DiffSummary.Truncation
    }

    /// Groups split into significant and noisy against `noise` (the baseline-vs-secondary tally
    /// of the same run; nil: every group is significant), and the pairs with at least one
    /// significant mismatch. Pairs past the tracked combinations count as mismatched.
    func summarize(noise: ComparisonTally?, rules: DiffRules) -> Summary {
        var significant = [Bool](repeating: true, count: groups.count)
        var out: [DiffSummary.Group] = [], noisy: [DiffSummary.Group] = []
        for (i, group) in groups.enumerated() {
            let endpointPairs = max(1, pairsPerEndpoint[group.key.endpoint] ?? 1)
            let rate = Double(group.exchanges) / Double(endpointPairs)
            var noiseRate: Double?, noiseExchanges: Int64?
            if let noise {
                let noisePairs = noise.pairsPerEndpoint[group.key.endpoint] ?? 0
                let noiseGroup = noise.groupIDs[group.key].map { noise.groups[Int($0)] }
                noiseExchanges = noiseGroup?.exchanges ?? 0
                noiseRate = noisePairs == 0 ? nil : Double(noiseExchanges ?? 0) / Double(noisePairs)
                if let noiseRate { significant[i] = rules.noise.significant(rate: rate, noise: noiseRate) }
            }
            let entry = DiffSummary.Group(
                endpoint: group.key.endpoint, kind: group.key.kind, field: group.key.field, count: group.count,
                exchanges: group.exchanges, rate: rate, noiseRate: noiseRate, noiseExchanges: noiseExchanges,
                examples: group.examples)
            if significant[i] { out.append(entry) } else { noisy.append(entry) }
        }
        var mismatched = untrackedMismatchedPairs
        for (signature, count) in signatures where signature.contains(where: { significant[Int($0)] }) {
            mismatched += count
        }
        var kinds: [MismatchKind: DiffSummary.KindCount] = [:]
        for group in out {
            var k = kinds[group.kind] ?? DiffSummary.KindCount(kind: group.kind, count: 0, exchanges: 0, examples: [])
            k.count += group.count
            for e in group.examples where k.examples.count < rules.examplesPerGroup && !k.examples.contains(e.exchange) {
                k.examples.append(e.exchange)
            }
            kinds[group.kind] = k
        }
        for (signature, count) in signatures {
            let kindsInPair = Set(signature.filter { significant[Int($0)] }.map { groups[Int($0)].key.kind })
            for kind in kindsInPair { kinds[kind]?.exchanges += count }
        }
        let order: (DiffSummary.Group, DiffSummary.Group) -> Bool = {
            ($0.exchanges, $1.endpoint, $1.field) > ($1.exchanges, $0.endpoint, $0.field)
        }
        return Summary(
            mismatched: mismatched, groups: out.sorted(by: order), noisyGroups: noisy.sorted(by: order),
            kinds: MismatchKind.allCases.compactMap { kinds[$0] },
            truncated: DiffSummary.Truncation(
                pairsWithCappedDifferences: truncatedPairs, ungroupedMismatches: ungrouped,
                untrackedMismatchedPairs: untrackedMismatchedPairs))
    }
}
