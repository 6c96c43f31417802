import Foundation
import ShadowCore
import ShadowDiff

/// The JSON report: the run's facts and the diff summary. docs/REPORT.md documents the fields.
public struct JSONReport: Sendable, Codable {
    public var run: RunFacts
    public var diff: DiffSummary

    public init(run: RunFacts, diff: DiffSummary) {
        self.run = run
        self.diff = diff
    }

    /// Writes the report to `path` (pretty-printed, sorted keys), mode 0600.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try PrivateFile.write(encoder.encode(self), to: path)
    }
}
