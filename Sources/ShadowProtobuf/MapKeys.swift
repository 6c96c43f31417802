/// Map entries reduced to one per key (the last one wins) in key order, as protoc prints them.
enum MapKeys {
    static func unique(_ entries: [ProtobufValue]) -> [ProtobufValue] {
        var latest: [ProtobufValue: ProtobufValue] = [:]
        for case .mapEntry(let key, let value) in entries { latest[key] = value }
        return latest.sorted { precedes($0.key, $1.key) }.map { ProtobufValue.mapEntry(key: $0.key, value: $0.value) }
    }

    private static func precedes(_ a: ProtobufValue, _ b: ProtobufValue) -> Bool {
        switch (a, b) {
        case let (.signed(x), .signed(y)): x < y
        case let (.unsigned(x), .unsigned(y)): x < y
        case let (.bool(x), .bool(y)): !x && y
        case let (.string(x), .string(y)): x.utf8.lexicographicallyPrecedes(y.utf8)
        case let (.bytes(x), .bytes(y)): x.lexicographicallyPrecedes(y)
        default: rank(a) < rank(b)
        }
    }

    private static func rank(_ value: ProtobufValue) -> Int {
        switch value {
        case .signed: 0
        case .unsigned: 1
        case .bool: 2
        case .string: 3
        case .bytes: 4
        default: 5
        }
    }
}
