import Testing
import SpotTrain

@Suite struct LayerGradientTests {
    @Test func denseGradientsMatchFiniteDifferences() {
        let rng = RandomGenerator(seed: 1)
        let layer = Dense(inputFeatures: 5, outputFeatures: 4, name: "d", rng: rng)
        layer.bias.value.assign(from: Tensor.uniform([4], lower: -0.5, upper: 0.5, rng: rng))
        let x = Tensor.uniform([3, 5], lower: -1, upper: 1, rng: rng)
        #expect(GradientCheck().check(layer, input: x) == 15 + 20 + 4)
    }

    @Test func denseWithReLUGradientsMatchFiniteDifferences() {
        let rng = RandomGenerator(seed: 2)
        let layer = Dense(inputFeatures: 6, outputFeatures: 5, activation: .relu, name: "d", rng: rng)
        let x = spacedValues([4, 6], spacing: 0.07, seed: 3)
        #expect(GradientCheck(epsilon: 1e-3, absoluteTolerance: 3e-3).check(layer, input: x) > 0)
    }

    @Test(arguments: [
        (kernel: 3, stride: 1, padding: Padding.valid),
        (kernel: 3, stride: 2, padding: Padding.valid),
        (kernel: 3, stride: 1, padding: Padding.same),
        (kernel: 3, stride: 2, padding: Padding.same),
        (kernel: 2, stride: 2, padding: Padding.same),
        (kernel: 4, stride: 3, padding: Padding.same),
    ], [Conv2D.Algorithm.im2col, .direct])
    func conv2DGradientsMatchFiniteDifferences(geometry: (kernel: Int, stride: Int, padding: Padding),
                                               algorithm: Conv2D.Algorithm) {
        let (kernel, stride, padding) = geometry
        let rng = RandomGenerator(seed: 10 + UInt64(kernel * 7 + stride))
        let layer = Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: kernel, stride: stride,
                           padding: padding, name: "c", rng: rng)
        layer.algorithm = algorithm
        layer.bias.value.assign(from: Tensor.uniform([3], lower: -0.5, upper: 0.5, rng: rng))
        layer.computesInputGradient = true
        let x = Tensor.uniform([2, 5, 6, 2], lower: -1, upper: 1, rng: rng)
        #expect(GradientCheck().check(layer, input: x) == 120 + kernel * kernel * 6 + 3)
    }

    @Test(arguments: Conv2D.Algorithm.allCases)
    func conv2DWithReLUGradientsMatchFiniteDifferences(algorithm: Conv2D.Algorithm) {
        let rng = RandomGenerator(seed: 21)
        let layer = Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: .same,
                           activation: .relu, name: "c", rng: rng)
        layer.algorithm = algorithm
        let x = spacedValues([1, 4, 5, 2], spacing: 0.05, seed: 4)
        #expect(GradientCheck(epsilon: 1e-3, absoluteTolerance: 3e-3).check(layer, input: x) > 0)
    }

    @Test(arguments: [(pool: 2, stride: 2, padding: Padding.valid),
                      (pool: 3, stride: 2, padding: Padding.valid),
                      (pool: 2, stride: 2, padding: Padding.same),
                      (pool: 3, stride: 1, padding: Padding.same)])
    func maxPoolGradientsMatchFiniteDifferences(pool: Int, stride: Int, padding: Padding) {
        let layer = MaxPool2D(poolSize: pool, stride: stride, padding: padding)
        let x = spacedValues([2, 5, 5, 3], seed: 5)
        #expect(GradientCheck().check(layer, input: x) == 150)
    }

    @Test func reluGradientsMatchFiniteDifferences() {
        let x = spacedValues([3, 7], spacing: 0.1, seed: 6)
        #expect(GradientCheck().check(ReLU(), input: x) == 21)
    }

    @Test func dropoutGradientsMatchFiniteDifferencesAndScaleSurvivors() {
        let rng = RandomGenerator(seed: 7)
        let layer = Dropout(rate: 0.4, rng: rng)
        let x = Tensor.uniform([4, 10], lower: -1, upper: 1, rng: RandomGenerator(seed: 8))
        #expect(GradientCheck(stochastic: rng).check(layer, input: x) == 40)
        let y = layer.forward(x, training: true)
        var dropped = 0
        for i in 0..<x.count {
            if y.pointer[i] == 0 { dropped += 1 } else { #expect(abs(y.pointer[i] - x.pointer[i] / 0.6) < 1e-6) }
        }
        #expect(dropped > 5 && dropped < 30)
    }

    @Test func dropoutIsIdentityAtInference() {
        let layer = Dropout(rate: 0.5, rng: RandomGenerator(seed: 1))
        let x = Tensor.uniform([2, 8], rng: RandomGenerator(seed: 2))
        #expect(layer.forward(x, training: false).scalars == x.scalars)
    }

    @Test func flattenRoundTripsShapes() {
        let x = Tensor.uniform([2, 3, 4, 5], rng: RandomGenerator(seed: 3))
        #expect(GradientCheck().check(Flatten(), input: x) == 120)
        #expect(Flatten().outputShape(for: [2, 3, 4, 5]) == [2, 60])
    }

    @Test func softmaxCrossEntropyGradientMatchesFiniteDifferences() {
        let rng = RandomGenerator(seed: 11)
        let logits = Tensor.uniform([4, 5], lower: -3, upper: 3, rng: rng)
        let labels: [Int32] = [0, 4, 2, 2]
        let loss = SoftmaxCrossEntropy()
        let (_, grad, _) = loss(logits: logits, labels: labels)
        let analytic = grad.copy()
        let eps: Float = 1e-2
        for i in 0..<logits.count {
            let o = logits.pointer[i]
            logits.pointer[i] = o + eps
            let plus = Double(loss(logits: logits, labels: labels).loss)
            logits.pointer[i] = o - eps
            let minus = Double(loss(logits: logits, labels: labels).loss)
            logits.pointer[i] = o
            let numeric = (plus - minus) / Double(2 * eps)
            #expect(abs(numeric - Double(analytic.pointer[i])) < 1e-3)
        }
    }

    @Test func softmaxCrossEntropyIsStableForHugeLogits() {
        let logits = Tensor(shape: [2, 3], values: [1000, 0, -1000, -5000, -5000, -4990])
        let (value, grad, correct) = SoftmaxCrossEntropy()(logits: logits, labels: [0, 1])
        #expect(value.isFinite)
        #expect(abs(value - 5) < 1e-3)  // row 0: ≈0; row 1: logsumexp ≈ -4990, minus z[1] = -5000 gives 10; mean 5
        #expect(grad.scalars.allSatisfy { $0.isFinite })
        #expect(correct == 1)
    }

    @Test func sequentialModelGradientsMatchFiniteDifferences() {
        let rng = RandomGenerator(seed: 12)
        let model = Sequential([
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, stride: 2, padding: .same, activation: .relu, rng: rng),
            Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 2, rng: rng),
            MaxPool2D(poolSize: 2),
            Dropout(rate: 0.25, rng: rng),
            Flatten(),
            Dense(inputFeatures: 3, outputFeatures: 4, activation: .relu, rng: rng),
            Dense(inputFeatures: 4, outputFeatures: 3, rng: rng),
        ])
        #expect(model.parameters.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                 "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"])
        let x = Tensor.uniform([2, 6, 6, 1], lower: -1, upper: 1, rng: RandomGenerator(seed: 13))
        let checked = GradientCheck(epsilon: 1e-3, absoluteTolerance: 3e-3, relativeTolerance: 2e-2, stochastic: rng)
            .check(model, input: x, checkInput: false)
        #expect(checked == model.parameterCount)
    }

    @Test func mnistCNNHasKerasParameterCountAndNames() {
        let model = Models.mnistCNN(rng: RandomGenerator(seed: 0))
        #expect(model.parameterCount == 1_199_882)
        #expect(model.layers.map(\.name) == ["conv1", "conv2", "pool1", "dropout1", "flatten1", "dense1", "dropout2", "dense2"])
        #expect(model.outputShape(for: [5, 28, 28, 1]) == [5, 10])
    }
}
