import Foundation
import Testing
import SpotTrain

/// `softmax` and `argmax` along the last axis.
@Suite struct SoftmaxArgmaxTests {
    @Test func softmaxMatchesADoubleReferenceAndRowsSumToOne() {
        let z = Tensor.uniform([3, 2, 5], lower: -8, upper: 8, rng: RandomGenerator(seed: 1))
        let p = z.softmax()
        #expect(p.shape == z.shape && p !== z)
        for row in 0..<6 {
            let values = (0..<5).map { Double(z.buffer[row * 5 + $0]) }
            let denominator = values.map { exp($0) }.reduce(0, +)
            var sum: Float = 0
            for k in 0..<5 {
                let got = p.buffer[row * 5 + k]
                #expect(abs(Double(got) - exp(values[k]) / denominator) < 1e-6)
                sum += got
            }
            #expect(abs(sum - 1) < 1e-6)
        }
    }

    @Test func softmaxIsStableForHugeAndTinyLogits() {
        let shifted = Tensor(shape: [2, 3], values: [1000, 1001, 1002, -1000, -1001, -1002]).softmax()
        let plain = Tensor(shape: [1, 3], values: [0, 1, 2]).softmax().scalars
        #expect(shifted.scalars.allSatisfy { $0.isFinite })
        for k in 0..<3 {
            #expect(abs(shifted[0, k] - plain[k]) < 1e-6)
            #expect(abs(shifted[1, k] - plain[2 - k]) < 1e-6)
        }
        let big = Tensor(shape: [2], values: [Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]).softmax()
        #expect(big.scalars == [1, 0])
    }

    @Test func softmaxSharesInfiniteLogitsAndKeepsNaNVisible() {
        let p = Tensor(shape: [3, 3], values: [.infinity, 0, .infinity, 1, .nan, 2, -.infinity, -.infinity, -.infinity]).softmax()
        #expect(Array(p.scalars[0..<3]) == [0.5, 0, 0.5])
        #expect(p.scalars[3..<9].allSatisfy { $0.isNaN })
    }

    @Test func argmaxTakesTheFirstMaximumPerRowAndReportsNaN() {
        let z = Tensor(shape: [4, 3], values: [1, 3, 3, -5, -7, -6, 0, .nan, 9, 2, 2, 2])
        #expect(z.argmax() == [1, 0, 1, 0])
        #expect(Tensor(shape: [4], values: [0, 4, 1, 4]).argmax() == [1])
        #expect(Tensor(shape: [2, 2, 2], values: [0, 1, 1, 0, 5, 6, 9, 8]).argmax() == [1, 0, 1, 0])
        #expect(Tensor.zeros([0, 10]).argmax() == [])
        #expect(Tensor.zeros([0, 10]).softmax().shape == [0, 10])
    }

    @Test func argmaxOfAnEmptyLastAxisNamesTheShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([3, 0]).argmax()
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Tensor.argmax: shape [3, 0]"), "\(text)")
    }
}
