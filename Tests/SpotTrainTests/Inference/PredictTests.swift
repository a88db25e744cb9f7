import Testing
import SpotTrain

/// `predict` runs a model without a `Trainer`: inference mode, a batch at a time, logits out.
@Suite struct PredictTests {
    /// Records the largest batch that reaches it (and passes its input through).
    final class BatchRecorder: Layer {
        var name = "recorder"
        var computesInputGradient = true
        var parameters: [Parameter] { [] }
        var largestBatch = 0
        var calls = 0
        func outputShape(for inputShape: [Int]) -> [Int] { inputShape }
        func forward(_ input: Tensor, training: Bool) -> Tensor {
            largestBatch = max(largestBatch, input.shape[0])
            calls += 1
            return input
        }
        func backward(_ outputGradient: Tensor) -> Tensor { outputGradient }
    }

    static func model(rng: RandomGenerator, recorder: BatchRecorder? = nil) -> Sequential {
        Sequential(inputShape: [5, 5, 2]) {
            if let recorder { recorder }
            Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, activation: .relu, rng: rng)
            Dropout(rate: 0.5, rng: rng)
            Flatten()
            Dense(units: 4, rng: rng)
        }
    }

    @Test func predictMatchesAnInferenceForwardWhateverTheBatchSize() {
        let rng = RandomGenerator(seed: 11)
        let model = Self.model(rng: rng)
        let x = Tensor.uniform([10, 5, 5, 2], lower: -1, upper: 1, rng: RandomGenerator(seed: 12))
        let expected = model.forward(x, training: false).copy()
        for batchSize in [1, 3, 4, 10, 500] {
            let y = model.predict(x, batchSize: batchSize)
            #expect(y.shape == [10, 4])
            for (a, b) in zip(y.scalars, expected.scalars) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b))) }
        }
    }

    @Test func predictTurnsDropoutOffAndDrawsNoRandomNumbers() {
        let rng = RandomGenerator(seed: 21)
        let model = Self.model(rng: rng)
        let x = Tensor.uniform([7, 5, 5, 2], rng: RandomGenerator(seed: 22))
        let before = rng.state
        let first = model.predict(x, batchSize: 2)
        let second = model.predict(x, batchSize: 2)
        #expect(first.scalars == second.scalars)
        #expect(rng.state == before)
    }

    @Test func predictPassesAtMostOneBatchThroughTheLayers() {
        let recorder = BatchRecorder()
        let model = Self.model(rng: RandomGenerator(seed: 31), recorder: recorder)
        let y = model.predict(Tensor.zeros([11, 5, 5, 2]), batchSize: 4)
        #expect(y.shape == [11, 4])
        #expect(recorder.largestBatch == 4 && recorder.calls == 3)
    }

    @Test func predictOnNoExamplesReturnsAnEmptyResultOfTheOutputShape() {
        let recorder = BatchRecorder()
        let model = Self.model(rng: RandomGenerator(seed: 41), recorder: recorder)
        let y = model.predict(Tensor.zeros([0, 5, 5, 2]))
        #expect(y.shape == [0, 4] && y.count == 0)
        #expect(recorder.calls == 0)
    }

    @Test func predictOnADatasetAndTrainerPredictAgreeWithPredictOnImages() {
        let rng = RandomGenerator(seed: 51)
        let model = Self.model(rng: rng)
        let x = Tensor.uniform([9, 5, 5, 2], rng: RandomGenerator(seed: 52))
        let data = Dataset(images: x, labels: Array(repeating: 0, count: 9))
        let direct = model.predict(x, batchSize: 4).scalars
        #expect(model.predict(data, batchSize: 4).scalars == direct)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), rng: rng)
        #expect(trainer.predict(x, batchSize: 4).scalars == direct)
    }

    @Test func predictedLogitsGiveProbabilitiesAndClasses() {
        let model = Self.model(rng: RandomGenerator(seed: 61))
        let x = Tensor.uniform([6, 5, 5, 2], rng: RandomGenerator(seed: 62))
        let logits = model.predict(x)
        let probabilities = logits.softmax()
        #expect(probabilities.argmax() == logits.argmax())
        for row in 0..<6 {
            let sum = (0..<4).reduce(Float(0)) { $0 + probabilities[row, $1] }
            #expect(abs(sum - 1) < 1e-5)
        }
    }

    @Test func predictWithANonPositiveBatchSizeNamesIt() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let model = Sequential(inputShape: [3]) { Dense(units: 2, rng: RandomGenerator(seed: 1)) }
            _ = model.predict(Tensor.zeros([4, 3]), batchSize: 0)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("predict: batchSize 0"), "\(text)")
    }
}
