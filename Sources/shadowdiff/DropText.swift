import ShadowCore

/// How every capture command shows what it could not use.
enum DropText {
    /// The largest drop counts on one line, for a live status line (empty when nothing was dropped).
    static func top(_ drops: [(DropReason, Int64)], label: String) -> String {
        guard !drops.isEmpty else { return "" }
        return "  \(label): " + drops.sorted { $0.1 > $1.1 }.prefix(3).map { "\($0.0.rawValue) \($0.1)" }.joined(separator: ", ")
    }

    /// Every drop reason with its count, one per line, for a final summary.
    static func block(_ counters: Counters, label: String) -> [String] {
        let drops = counters.drops
        guard !drops.isEmpty else { return ["  \(label): nothing"] }
        return ["  \(label), by reason:"]
            + drops.map { "    \($0.0.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)) \($0.1)" }
    }
}
