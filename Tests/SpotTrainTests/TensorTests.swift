import Testing
import SpotTrain

@Suite struct TensorTests {
    @Test func reshapeSharesStorage() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let r = t.reshaped([3, -1])
        #expect(r.shape == [3, 2])
        r[2, 1] = 60
        #expect(t[1, 2] == 60)
        #expect(t.copy().storage !== t.storage)
    }

    @Test func elementAccessIsRowMajor() {
        let t = Tensor(shape: [2, 2, 3], values: (0..<12).map(Float.init))
        #expect(t[1, 0, 2] == 8)
        #expect(t.flatIndex([1, 1, 1]) == 10)
    }

    @Test func rngStateRoundTripReplaysDraws() {
        let rng = RandomGenerator(seed: 42)
        _ = rng.next()
        let saved = rng.state
        let a = (0..<5).map { _ in rng.next() }
        rng.state = saved
        let b = (0..<5).map { _ in rng.next() }
        #expect(a == b)
    }

    @Test func parallelFillMatchesSequentialDraws() {
        let rng = RandomGenerator(seed: 7)
        let t = Tensor.uniform([100_000], rng: rng)
        let seq = RandomGenerator(seed: 7)
        let expected = (0..<100_000).map { _ in seq.nextFloat() }
        #expect(t.scalars == expected)
        #expect(rng.state == seq.state)
    }

    @Test func uniformIntegersAreInRange() {
        let rng = RandomGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 { counts[rng.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { $0 > 850 && $0 < 1150 })
    }

    @Test func sgemmMatchesReference() {
        let rng = RandomGenerator(seed: 3)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = 7, n = 5, k = 9
            let a = Tensor.uniform(ta ? [k, m] : [m, k], lower: -1, upper: 1, rng: rng)
            let b = Tensor.uniform(tb ? [n, k] : [k, n], lower: -1, upper: 1, rng: rng)
            let c1 = Tensor.uniform([m, n], rng: rng)
            let c2 = c1.copy()
            BLAS.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5,
                       a: a.pointer, b: b.pointer, beta: 1, c: c1.pointer)
            BLAS.sgemmReference(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5,
                                a: a.pointer, b: b.pointer, beta: 1, c: c2.pointer)
            for (x, y) in zip(c1.scalars, c2.scalars) { #expect(abs(x - y) < 1e-5) }
        }
    }
}
