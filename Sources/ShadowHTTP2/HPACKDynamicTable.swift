import ShadowCore

/// An HPACK dynamic table (RFC 7541 §2.3.2, §4) that may know only its newest entries.
///
/// When decoding starts mid-connection the entries inserted before are unknown: those inserted
/// since are the newest and indexed exactly, anything older is `unknown`. The table becomes fully
/// known when the known entries leave no room for another entry, or an eviction reaches them.
struct HPACKDynamicTable: Sendable {
    struct Entry: Hashable, Sendable {
        var field: HeaderField
        /// RFC 7541 size; a lower bound when the name was itself unknown.
        var size: Int
        var nameKnown: Bool
    }

    enum Lookup: Hashable, Sendable {
        case entry(Entry)
        /// Older than what was seen: a placeholder stands for it.
        case unknown
        case outOfRange(entries: Int)
    }

    static let entryOverhead = 32

    /// Oldest first.
    private var entries: [Entry] = []
    private var oldest = 0
    private(set) var size = 0
    /// The encoder's current maximum size, as last signalled or assumed.
    private(set) var maxSize: Int
    /// Whether `maxSize` was signalled (a size update, or the connection's start) or only assumed.
    private(set) var maxSizeCertain: Bool
    /// Whether no entry older than the known ones can exist.
    private(set) var isKnown: Bool
    /// Entries are kept up to this size while `maxSize` is only assumed: keeping too many is
    /// harmless (an encoder never refers past its table), evicting too early is not.
    let hardMaxSize: Int

    init(maxSize: Int, known: Bool, hardMaxSize: Int) {
        self.maxSize = maxSize
        self.maxSizeCertain = known
        self.isKnown = known
        self.hardMaxSize = hardMaxSize
    }

    var count: Int { entries.count - oldest }

    func lookup(dynamicIndex: Int) -> Lookup {
        if dynamicIndex >= 1, dynamicIndex <= count { return .entry(entries[entries.count - dynamicIndex]) }
        return isKnown && maxSizeCertain ? .outOfRange(entries: count) : .unknown
    }

    mutating func insert(_ field: HeaderField, size: Int, nameKnown: Bool) {
        let bound = maxSizeCertain ? maxSize : hardMaxSize
        if size > bound {
            removeAll()
            isKnown = true
            return
        }
        entries.append(Entry(field: field, size: size, nameKnown: nameKnown))
        self.size += size
        evict(to: bound)
        updateKnown()
    }

    mutating func resize(to newMaxSize: Int) {
        maxSize = newMaxSize
        maxSizeCertain = true
        evict(to: newMaxSize)
        updateKnown()
    }

    /// A lower limit announced by SETTINGS_HEADER_TABLE_SIZE caps the table at once.
    mutating func cap(at limit: Int) {
        guard limit < maxSize else { return }
        maxSize = limit
        evict(to: maxSizeCertain ? maxSize : hardMaxSize)
        updateKnown()
    }

    /// Forgets every entry: what follows is decoded as if mid-connection.
    mutating func forget(assumedMaxSize: Int) {
        removeAll()
        maxSize = assumedMaxSize
        maxSizeCertain = false
        isKnown = false
    }

    private mutating func evict(to bound: Int) {
        while size > bound, oldest < entries.count {
            size -= entries[oldest].size
            oldest += 1
            isKnown = true
        }
        if oldest > 64, oldest * 2 > entries.count {
            entries.removeFirst(oldest)
            oldest = 0
        }
    }

    private mutating func updateKnown() {
        if maxSize - size < Self.entryOverhead { isKnown = true }
    }

    private mutating func removeAll() {
        entries.removeAll()
        oldest = 0
        size = 0
    }
}
