// TEMPORARY until ShadowStats lands
public struct LatencySection: Sendable, Codable {
    public var gates: [DiffSummary.Gate] = []
    public init() {}
}
extension LatencySamples {
    func judge(rules: DiffRules) -> LatencySection { LatencySection() }
}
