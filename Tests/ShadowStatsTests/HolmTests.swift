import ShadowStats
import Testing

@Suite struct HolmTests {
    @Test func adjustsInStepDownOrder() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
        let adjusted = Holm.adjust([0.01, 0.04, 0.03, 0.005])
        let expected = [0.03, 0.06, 0.06, 0.02]
        for (a, e) in zip(adjusted, expected) { #expect(abs(a - e) < 1e-12) }
        #expect(Holm.adjust([]).isEmpty)
        #expect(Holm.adjust([0.9, 0.8]) == [1, 1])
    }
}
