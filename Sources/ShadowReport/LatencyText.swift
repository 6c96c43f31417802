import ShadowDiff

// TEMPORARY until ShadowStats lands
enum LatencyText {
    static func render(_ section: LatencySection) -> String { "" }
}
