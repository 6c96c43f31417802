/// Least-significant-digit radix sort for Int64 (8 bits per pass on the sign-flipped bit pattern;
/// a pass is skipped when every value has the same byte there, so latencies of a few ms take
/// 3 passes). Stable, O(n) per pass, and fast in debug builds too, where the standard library's
/// generic sort is not specialized.
public enum RadixSort {
    /// `values` in ascending order.
    public static func sorted(_ values: [Int64]) -> [Int64] {
        if values.count < 2 { return values }
        return sortedKeys(values.map { UInt64(bitPattern: $0) ^ (1 << 63) }).map { Int64(bitPattern: $0 ^ (1 << 63)) }
    }

    /// `values` in ascending order; precondition: no NaN (−0.0 sorts before +0.0).
    public static func sorted(_ values: [Double]) -> [Double] {
        if values.count < 2 { return values }
        // Order-preserving map to unsigned integers: negative values reversed, positive ones shifted up.
        let keys = values.map { value -> UInt64 in
            precondition(!value.isNaN, "cannot sort NaN")
            let bits = value.bitPattern
            return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
        }
        return sortedKeys(keys).map { key in
            Double(bitPattern: key & (1 << 63) != 0 ? key & ~(1 << 63) : ~key)
        }
    }

    private static func sortedKeys(_ input: [UInt64]) -> [UInt64] {
        var keys = input
        let n = keys.count
        var spare = [UInt64](repeating: 0, count: n)
        var histograms = [Int](repeating: 0, count: 8 * 256)
        histogram(keys, into: &histograms)
        for pass in 0..<8 where !isConstant(histograms, pass: pass, count: n) {
            var offsets = exclusivePrefixSums(histograms, pass: pass)
            let shift = UInt64(8 * pass)
            keys.withUnsafeBufferPointer { source in
                spare.withUnsafeMutableBufferPointer { target in
                    offsets.withUnsafeMutableBufferPointer { offsets in
                        for key in source {
                            let digit = Int(truncatingIfNeeded: (key &>> shift) & 0xFF)
                            target[offsets[digit]] = key
                            offsets[digit] &+= 1
                        }
                    }
                }
            }
            swap(&keys, &spare)
        }
        return keys
    }

    /// The permutation that sorts `values` ascending: `values[order[0]] <= values[order[1]] <= ...`;
    /// equal values keep their index order.
    public static func order(_ values: [Int64]) -> [Int] {
        let n = values.count
        var indices = Array(0..<n)
        if n < 2 { return indices }
        var keys = values.map { UInt64(bitPattern: $0) ^ (1 << 63) }
        var spareKeys = [UInt64](repeating: 0, count: n)
        var spareIndices = [Int](repeating: 0, count: n)
        var histograms = [Int](repeating: 0, count: 8 * 256)
        histogram(keys, into: &histograms)
        for pass in 0..<8 where !isConstant(histograms, pass: pass, count: n) {
            var offsets = exclusivePrefixSums(histograms, pass: pass)
            let shift = UInt64(8 * pass)
            keys.withUnsafeBufferPointer { sourceKeys in
                indices.withUnsafeBufferPointer { sourceIndices in
                    spareKeys.withUnsafeMutableBufferPointer { targetKeys in
                        spareIndices.withUnsafeMutableBufferPointer { targetIndices in
                            offsets.withUnsafeMutableBufferPointer { offsets in
                            for position in 0..<n {
                                let key = sourceKeys[position]
                                let digit = Int(truncatingIfNeeded: (key &>> shift) & 0xFF)
                                let slot = offsets[digit]
                                targetKeys[slot] = key
                                targetIndices[slot] = sourceIndices[position]
                                offsets[digit] = slot &+ 1
                            }
                            }
                        }
                    }
                }
            }
            swap(&keys, &spareKeys)
            swap(&indices, &spareIndices)
        }
        return indices
    }

    private static func histogram(_ keys: [UInt64], into histograms: inout [Int]) {
        histograms.withUnsafeMutableBufferPointer { counts in
            for key in keys {
                var rest = key
                var pass = 0
                while pass < 8 {
                    counts[pass &* 256 &+ Int(truncatingIfNeeded: rest & 0xFF)] &+= 1
                    rest = rest &>> 8
                    pass &+= 1
                }
            }
        }
    }

    private static func isConstant(_ histograms: [Int], pass: Int, count: Int) -> Bool {
        for digit in 0..<256 where histograms[pass * 256 + digit] != 0 {
            return histograms[pass * 256 + digit] == count
        }
        return true
    }

    private static func exclusivePrefixSums(_ histograms: [Int], pass: Int) -> [Int] {
        var offsets = [Int](repeating: 0, count: 256)
        var total = 0
        for digit in 0..<256 {
            offsets[digit] = total
            total += histograms[pass * 256 + digit]
        }
        return offsets
    }
}
