import Foundation

/// Parses JSON from untrusted bytes (RFC 8259). Never traps: malformed input, excessive
/// nesting and invalid UTF-8 produce `nil`.
public struct JSONParser {
    /// Deeper documents are rejected rather than recursed into.
    public static let maxDepth = 128

    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        try? parseOrThrow(bytes)
    }

    /// The document in `bytes`, or an error saying where and why it is not JSON.
    public static func parseOrThrow(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let outcome: Result<JSONValue, JSONParseError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = Cursor(bytes: buffer)
            parser.skipWhitespace()
            guard let value = parser.value(depth: 0) else {
                return .failure(parser.tooDeep ? .tooDeep(offset: parser.index) : .invalid(offset: parser.index))
            }
            parser.skipWhitespace()
            return parser.index == buffer.count ? .success(value) : .failure(.trailingBytes(offset: parser.index))
        }
        return try outcome.get()
    }

    fileprivate struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var tooDeep = false

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < JSONParser.maxDepth else {
                tooDeep = true
                return nil
            }
            guard let c = current else { return nil }
            switch c {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        mutating func literal(_ text: StaticString, _ value: JSONValue) -> JSONValue? {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return nil }
            for i in 0..<count where bytes[index + i] != text.utf8Start[i] { return nil }
            index += count
            return value
        }

        /// A member name given twice keeps its last value (as `openRTBBids` reads it, and as most
        /// decoders do) at its first place, so that an object never differs from itself.
        mutating func object(depth: Int) -> JSONValue? {
            var members: [(key: String, value: JSONValue)] = []
            var positions: [String: Int] = [:]
            let complete = self.members(depth: depth) { cursor, name in
                guard let key = cursor.decode(name), let value = cursor.value(depth: depth + 1) else { return false }
                if members.count < 8 {
                    if let at = members.firstIndex(where: { $0.key == key }) { members[at].value = value } else { members.append((key, value)) }
                    return true
                }
                if positions.isEmpty { for (i, member) in members.enumerated() { positions[member.key] = i } }
                if let at = positions[key] {
                    members[at].value = value
                } else {
                    positions[key] = members.count
                    members.append((key, value))
                }
                return true
            }
            return complete ? .object(members) : nil
        }

        /// The text of a member name: straight from its bytes, or through `string()` when it
        /// holds escapes.
        func decode(_ name: MemberName) -> String? {
            guard name.bytes.contains(UInt8(ascii: "\\")) else { return Self.text(name.bytes) }
            var reader = Cursor(bytes: bytes)
            reader.index = name.quote
            return reader.string()
        }

        /// The string of UTF-8 bytes; nil when they are not valid UTF-8. ASCII, the common case,
        /// skips the validator.
        static func text(_ utf8: UnsafeBufferPointer<UInt8>) -> String? {
            if utf8.allSatisfy({ $0 < 0x80 }) { return String(decoding: utf8, as: UTF8.self) }
            return String(validating: utf8, as: UTF8.self)
        }

        /// Checks one value's syntax and moves past it without building it.
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < JSONParser.maxDepth else {
                tooDeep = true
                return false
            }
            guard let c = current else { return false }
            switch c {
            case UInt8(ascii: "{"):
                return members(depth: depth) { _, _ in nil }
            case UInt8(ascii: "["):
                return elements(depth: depth) { $0.skipValue(depth: depth + 1) }
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "t"): return literal("true", .null) != nil
            case UInt8(ascii: "f"): return literal("false", .null) != nil
            case UInt8(ascii: "n"): return literal("null", .null) != nil
            default: return number() != nil
            }
        }

        /// A member name as it stands in the input: its bytes between the quotes (escapes not
        /// undone) and the position of its opening quote.
        struct MemberName {
            let bytes: UnsafeBufferPointer<UInt8>
            let quote: Int
        }

        /// Walks an object's members: `visit` gets each member name with the cursor at the value
        /// and consumes the value (false on a syntax error), or returns nil to have it skipped.
        /// Every object the parser reads goes through here.
        mutating func members(depth: Int, _ visit: (inout Cursor, MemberName) -> Bool?) -> Bool {
            guard depth < JSONParser.maxDepth else {
                tooDeep = true
                return false
            }
            guard current == UInt8(ascii: "{") else { return skipValue(depth: depth) }
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                index += 1
                return true
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { return false }
                let quote = index
                guard skipString() else { return false }
                let key = MemberName(bytes: UnsafeBufferPointer(rebasing: bytes[quote + 1..<index - 1]), quote: quote)
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { return false }
                index += 1
                skipWhitespace()
                switch visit(&self, key) {
                case .some(true): break
                case .some(false): return false
                case .none: guard skipValue(depth: depth + 1) else { return false }
                }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return true
                default: return false
                }
            }
        }

        /// Walks an array's elements; `visit` consumes each (false on a syntax error). A value
        /// that is not an array is skipped. Every array the parser reads goes through here.
        mutating func elements(depth: Int, _ visit: (inout Cursor) -> Bool) -> Bool {
            guard depth < JSONParser.maxDepth else {
                tooDeep = true
                return false
            }
            guard current == UInt8(ascii: "[") else { return skipValue(depth: depth) }
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                return true
            }
            while true {
                skipWhitespace()
                guard visit(&self) else { return false }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return true
                default: return false
                }
            }
        }

        /// Moves past a string, checking escapes and control bytes but not UTF-8.
        mutating func skipString() -> Bool {
            index += 1
            while index < bytes.count {
                index = Self.plainRun(bytes, from: index)
                guard index < bytes.count else { break }
                let c = bytes[index]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                switch c {
                case UInt8(ascii: "\""):
                    index += 1
                    return true
                case UInt8(ascii: "\\"):
                    index += 1
                    guard escape() != nil else { return false }
                default:
                    return false
                }
            }
            return false
        }

        /// The index of the first byte at or after `start` that is `"`, `\\` or below 0x20 (or the
        /// end): eight bytes per step (SWAR), then byte by byte.
        static func plainRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
            var i = start
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            if let base = UnsafeRawPointer(bytes.baseAddress) {
                while i + 8 <= bytes.count {
                    let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    // A byte of `x` is zero exactly where the word holds the byte sought.
                    func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
                    let quote = zeroBytes(word ^ (ones &* 0x22)), backslash = zeroBytes(word ^ (ones &* 0x5C))
                    let control = (word &- ones &* 0x20) & ~word & highs
                    if quote | backslash | control != 0 { break }
                    i += 8
                }
            }
            while i < bytes.count {
                let c = bytes[i]
                if c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { break }
                i += 1
            }
            return i
        }

        mutating func array(depth: Int) -> JSONValue? {
            var items: [JSONValue] = []
            let complete = elements(depth: depth) { cursor in
                guard let item = cursor.value(depth: depth + 1) else { return false }
                items.append(item)
                return true
            }
            return complete ? .array(items) : nil
        }

        /// A string value: the common case (no escapes) becomes a String straight from the
        /// bytes; escapes are decoded into a byte buffer first. Invalid UTF-8 fails.
        mutating func string() -> String? {
            index += 1
            let start = index
            while let c = current, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\") {
                guard c >= 0x20 else { return nil }
                index += 1
            }
            guard let stop = current else { return nil }
            if stop == UInt8(ascii: "\"") {
                index += 1
                return Self.text(UnsafeBufferPointer(rebasing: bytes[start..<index - 1]))
            }
            var utf8 = Array(bytes[start..<index])
            while let c = current {
                switch c {
                case UInt8(ascii: "\""):
                    index += 1
                    return utf8.withUnsafeBufferPointer { Self.text($0) }
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let scalar = escape() else { return nil }
                    utf8.append(contentsOf: UTF8.encode(scalar)!)
                case 0..<0x20:
                    return nil
                default:
                    utf8.append(c)
                    index += 1
                }
            }
            return nil
        }

        mutating func escape() -> Unicode.Scalar? {
            guard let c = current else { return nil }
            index += 1
            switch c {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                guard let high = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(high) {
                    guard current == UInt8(ascii: "\\") else { return "\u{FFFD}" }
                    index += 1
                    guard current == UInt8(ascii: "u") else { return nil }
                    index += 1
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return "\u{FFFD}" }
                    return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                }
                return Unicode.Scalar(high) ?? "\u{FFFD}"
            default: return nil
            }
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - index >= 4 else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        mutating func number() -> JSONValue? {
            let start = index
            if current == UInt8(ascii: "-") { index += 1 }
            guard let first = current, first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else { return nil }
            while let c = current, (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
            {
                index += 1
            }
            let digits = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if let exact = Self.simpleDecimal(digits) { return .number(exact) }
            if digits.count < 64 {
                return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> JSONValue? in
                    for (i, byte) in digits.enumerated() { buffer[i] = CChar(bitPattern: byte) }
                    buffer[digits.count] = 0
                    var end: UnsafeMutablePointer<CChar>?
                    let value = strtod(buffer.baseAddress!, &end)
                    return end == buffer.baseAddress! + digits.count ? .number(value) : nil
                }
            }
            return Double(String(decoding: digits, as: UTF8.self)).map(JSONValue.number)
        }

        /// The value of a plain decimal `-?(0|[1-9][0-9]*)(.[0-9]+)?` with at most 15 digits, or nil
        /// for anything else. Exact as `strtod`: the digits as an integer (below 2^53) and a power
        /// of ten up to 10^15 are both exact doubles, and one division of exact doubles is
        /// correctly rounded (Clinger's fast path).
        static func simpleDecimal(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
            var i = 0
            let negative = text.first == UInt8(ascii: "-")
            if negative { i = 1 }
            guard i < text.count else { return nil }
            if text[i] == UInt8(ascii: "0"), i + 1 < text.count, text[i + 1] != UInt8(ascii: ".") { return nil }
            var mantissa: UInt64 = 0
            var digits = 0, decimals = 0
            var point = false
            while i < text.count {
                let c = text[i]
                if c == UInt8(ascii: ".") {
                    guard !point, digits > 0, i + 1 < text.count else { return nil }
                    point = true
                } else {
                    guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                    mantissa = mantissa * 10 + UInt64(c - UInt8(ascii: "0"))
                    digits += 1
                    if point { decimals += 1 }
                    guard digits <= 15 else { return nil }
                }
                i += 1
            }
            guard digits > 0 else { return nil }
            let value = Double(mantissa) / powersOfTen[decimals]
            return negative ? -value : value
        }

        static let powersOfTen: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]
    }
}

/// Why bytes are not a JSON document (RFC 8259), and where.
public enum JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Malformed JSON, or invalid UTF-8 inside a string, at this byte offset.
    case invalid(offset: Int)
    /// Nesting deeper than `JSONParser.maxDepth`, reached at this byte offset.
    case tooDeep(offset: Int)
    /// A complete value followed by more than whitespace.
    case trailingBytes(offset: Int)

    public var description: String {
        switch self {
        case .invalid(let offset): "not JSON (error at byte \(offset))"
        case .tooDeep(let offset): "JSON nested deeper than \(JSONParser.maxDepth) levels (at byte \(offset))"
        case .trailingBytes(let offset): "not JSON (unexpected bytes after the document at byte \(offset))"
        }
    }
}

extension JSONParser {
    /// Reads `body` as an OpenRTB bid response straight into decisions, without building the
    /// document: the winning (highest-priced) bid per `impid` over every `seatbid`, with its seat
    /// and the response's `cur` (default USD); members a decision does not use are checked for
    /// syntax only. A body that is JSON but not an object, or has no `seatbid`, has no bids.
    static func openRTBBids(_ body: [UInt8]) throws(JSONParseError) -> [String: Bid] {
        func named(_ member: Cursor.MemberName, _ name: StaticString) -> Bool {
            member.bytes.count == name.utf8CodeUnitCount
                && (member.bytes.isEmpty || memcmp(member.bytes.baseAddress!, name.utf8Start, member.bytes.count) == 0)
        }
        /// A string's text, or any other value's compact JSON; nil on a syntax error.
        func text(_ c: inout Cursor, depth: Int) -> String? {
            if c.current == UInt8(ascii: "\"") { return c.string() }
            return c.value(depth: depth).map { $0.stringValue ?? $0.preview() }
        }
        /// A string's text, nil for any other value (`ok` false on a syntax error).
        func string(_ c: inout Cursor, depth: Int) -> (ok: Bool, text: String?) {
            if c.current == UInt8(ascii: "\"") {
                let s = c.string()
                return (s != nil, s)
            }
            return (c.value(depth: depth) != nil, nil)
        }
        /// An array's elements as `text` reads them, sorted; [] for any other value; nil on a syntax error.
        func texts(_ c: inout Cursor, depth: Int) -> [String]? {
            guard c.current == UInt8(ascii: "[") else { return c.value(depth: depth) == nil ? nil : [] }
            var out: [String] = []
            let ok = c.elements(depth: depth) { c in
                guard let element = text(&c, depth: depth + 1) else { return false }
                out.append(element)
                return true
            }
            guard ok else { return nil }
            if out.count > 1 { out.sort() }
            return out
        }
        enum BidField { case impid, price, crid, adomain, dealid, cat, attr }
        func bidField(_ key: Cursor.MemberName) -> BidField? {
            switch key.bytes.count {
            case 3: return named(key, "cat") ? .cat : nil
            case 4: return named(key, "crid") ? .crid : (named(key, "attr") ? .attr : nil)
            case 5: return named(key, "impid") ? .impid : (named(key, "price") ? .price : nil)
            case 6: return named(key, "dealid") ? .dealid : nil
            case 7: return named(key, "adomain") ? .adomain : nil
            default: return nil
            }
        }
        struct Partial {
            var impid: String?
            var price = 0.0
            var crid: String?
            var adomain: [String] = []
            var dealid: String?
            var cat: [String] = []
            var attr: [String] = []
        }
        let outcome: Result<[String: Bid], JSONParseError> = body.withUnsafeBufferPointer { buffer in
            var cursor = Cursor(bytes: buffer)
            var seats: [(seat: String?, bids: [Partial])] = []
            var currency = "USD"
            cursor.skipWhitespace()
            guard cursor.current == UInt8(ascii: "{") else {
                if cursor.value(depth: 0) == nil { return .failure(cursor.tooDeep ? .tooDeep(offset: cursor.index) : .invalid(offset: cursor.index)) }
                cursor.skipWhitespace()
                return cursor.index == buffer.count ? .success([:]) : .failure(.trailingBytes(offset: cursor.index))
            }
            let ok = cursor.members(depth: 0) { c, key in
                if named(key, "cur") {
                    guard let value = c.value(depth: 1) else { return false }
                    if let s = value.stringValue { currency = s }
                    return true
                }
                guard named(key, "seatbid") else { return nil }
                return c.elements(depth: 1) { c in
                    var seat: String?
                    var bids: [Partial] = []
                    let done = c.members(depth: 2) { c, key in
                        if named(key, "seat") {
                            guard let value = c.value(depth: 3) else { return false }
                            seat = value.stringValue
                            return true
                        }
                        guard named(key, "bid") else { return nil }
                        return c.elements(depth: 3) { c in
                            var bid = Partial()
                            let done = c.members(depth: 4) { c, key in
                                guard let field = bidField(key) else { return nil }
                                switch field {
                                case .impid:
                                    guard let value = text(&c, depth: 5) else { return false }
                                    bid.impid = value
                                case .price:
                                    guard let value = c.value(depth: 5) else { return false }
                                    bid.price = value.numberValue ?? 0
                                case .crid, .dealid:
                                    let (ok, value) = string(&c, depth: 5)
                                    guard ok else { return false }
                                    if field == .crid { bid.crid = value } else { bid.dealid = value }
                                case .adomain, .cat, .attr:
                                    guard let values = texts(&c, depth: 5) else { return false }
                                    switch field {
                                    case .adomain: bid.adomain = values
                                    case .cat: bid.cat = values
                                    default: bid.attr = values
                                    }
                                }
                                return true
                            }
                            if done { bids.append(bid) }
                            return done
                        }
                    }
                    if done { seats.append((seat, bids)) }
                    return done
                }
            }
            guard ok else { return .failure(cursor.tooDeep ? .tooDeep(offset: cursor.index) : .invalid(offset: cursor.index)) }
            cursor.skipWhitespace()
            guard cursor.index == buffer.count else { return .failure(.trailingBytes(offset: cursor.index)) }
            var out: [String: Bid] = [:]
            for (seat, bids) in seats {
                for partial in bids {
                    guard let impid = partial.impid else { continue }
                    let bid = Bid(
                        price: partial.price, crid: partial.crid, adomain: partial.adomain, dealid: partial.dealid,
                        cat: partial.cat, attr: partial.attr, seat: seat, currency: currency)
                    if let existing = out[impid], existing.price >= bid.price { continue }
                    out[impid] = bid
                }
            }
            return .success(out)
        }
        return try outcome.get()
    }
}
