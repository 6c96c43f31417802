import ShadowStats
import Testing

@Suite struct RadixSortTests {
    @Test func sortsLikeTheStandardLibrary() {
        var random = TestRandom(seed: 12)
        let samples: [[Int64]] = [
            [], [5], [3, -3], [Int64.max, Int64.min, 0, -1, 1, Int64.min, Int64.max],
            (0..<1_000).map { _ in random.integer(in: -5...5) },
            (0..<3_000).map { _ in random.integer(in: Int64.min...Int64.max) },
            (0..<2_000).map { _ in 2_000_000 + random.integer(in: 0...900_000) },
        ]
        for values in samples {
            #expect(RadixSort.sorted(values) == values.sorted())
            let order = RadixSort.order(values)
            #expect(order.map { values[$0] } == values.sorted())
            // Stable: equal values keep index order.
            for position in order.indices.dropFirst() where values[order[position]] == values[order[position - 1]] {
                #expect(order[position] > order[position - 1])
            }
        }
        let doubles: [Double] = [3.5, -0.0, 0.0, -1e300, 1e-300, .infinity, -.infinity, 2, -2, 1.1, 1.1,
                                 Double.leastNonzeroMagnitude, -Double.leastNonzeroMagnitude]
            + (0..<2_000).map { _ in random.normal() * 1e6 }
        #expect(RadixSort.sorted(doubles) == doubles.sorted())
    }
}
