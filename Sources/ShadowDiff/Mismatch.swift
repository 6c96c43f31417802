/// What kind of difference a mismatch is.
public enum MismatchKind: String, Sendable, Codable, CaseIterable {
    /// Different HTTP status (or status class).
    case status
    /// One side failed (refused, reset, timeout, ...) and the other did not, or they failed differently.
    case error
    /// OpenRTB: bid on one side, no bid on the other, for one impression.
    case decision
    /// A JSON field differs (OpenRTB decision fields included).
    case field
    /// A compared response header differs.
    case header
    /// Bodies that are not JSON differ byte for byte (`json` rules).
    case body
    /// A body that should be JSON is not (or its content coding cannot be undone) on one side or both.
    case unparsable
}

/// One difference between two answers to the same request.
public struct Mismatch: Sendable, Hashable {
    public var kind: MismatchKind
    /// What differs, for grouping: `status`, `error`, `header:<name>`, `body`, or a JSON pointer
    /// template with `*` for array elements and impressions (`/imp/*/price`, `/seatbid/*/bid/*/crid`).
    public var field: String
    /// Where exactly: the concrete JSON pointer when it differs from `field`.
    public var path: String?
    /// The impression id, for OpenRTB decisions.
    public var impression: String?
    /// Short previews of the two values; `(absent)` where a side has none.
    public var left: String
    public var right: String

    public init(kind: MismatchKind, field: String, path: String? = nil, impression: String? = nil, left: String, right: String) {
        self.kind = kind
        self.field = field
        self.path = path
        self.impression = impression
        self.left = left
        self.right = right
    }
}
