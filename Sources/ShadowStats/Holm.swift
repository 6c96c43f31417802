/// Holm's step-down adjustment for a family of p-values (Holm 1979).
///
/// Contract: returns one adjusted p-value per input, in input order; each is at least its raw
/// value, at most 1, and monotone in the sorted order, so "adjusted p < α" rejects exactly the
/// hypotheses Holm's procedure rejects at family-wise error rate α.
public enum Holm {
    public static func adjust(_ pValues: [Double]) -> [Double] {
        let m = pValues.count
        let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
        var adjusted = [Double](repeating: 1, count: m)
        var running = 0.0
        for (rank, index) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * pValues[index]))
            adjusted[index] = running
        }
        return adjusted
    }
}
