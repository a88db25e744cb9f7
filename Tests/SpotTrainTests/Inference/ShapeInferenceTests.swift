import Testing
import SpotTrain

/// `Sequential(inputShape:)` propagates shapes, so `Dense(units:)` after `Flatten` and
/// `Conv2D(filters:kernelSize:)` need no hand-computed input size, and draw exactly the
/// weights the hand-sized layers would.
@Suite struct ShapeInferenceTests {
    /// `Models.mnistCNN` as it was written before shape inference: every size by hand.
    static func handSizedMNISTCNN(rng: RandomGenerator) -> Sequential {
        Sequential([
            Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 3, activation: .relu, rng: rng),
            Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, activation: .relu, rng: rng),
            MaxPool2D(poolSize: 2),
            Dropout(rate: 0.25, rng: rng),
            Flatten(),
            Dense(inputFeatures: 12 * 12 * 64, outputFeatures: 128, activation: .relu, rng: rng),
            Dropout(rate: 0.5, rng: rng),
            Dense(inputFeatures: 128, outputFeatures: 10, rng: rng),
        ], name: "mnist_cnn")
    }

    @Test func mnistCNNWithInferredSizesHasBitIdenticalWeightsAndRNGState() {
        for seed: UInt64 in [0, 42] {
            let handRNG = RandomGenerator(seed: seed), inferredRNG = RandomGenerator(seed: seed)
            let hand = Self.handSizedMNISTCNN(rng: handRNG)
            let inferred = Models.mnistCNN(rng: inferredRNG)
            #expect(inferred.parameterSignature.map(\.name) == hand.parameterSignature.map(\.name))
            #expect(inferred.parameterSignature.map(\.shape) == hand.parameterSignature.map(\.shape))
            #expect(inferred.parameterCount == 1_199_882)
            #expect(inferred.parameterFingerprintBytes() == hand.parameterFingerprintBytes())
            // The dropout masks drawn later start from the same state.
            #expect(inferredRNG.state == handRNG.state)
            #expect(inferred.layers.map(\.name) == ["conv1", "conv2", "pool1", "dropout1", "flatten1", "dense1", "dropout2", "dense2"])
        }
    }

    /// The convolutions alone inferred (dense layers sized by hand, so that the draws happen
    /// in layer order): still the hand-sized model, bit for bit.
    @Test func mnistCNNWithInferredConvolutionChannelsHasBitIdenticalWeights() {
        for seed: UInt64 in [0, 42] {
            let handRNG = RandomGenerator(seed: seed), inferredRNG = RandomGenerator(seed: seed)
            let hand = Self.handSizedMNISTCNN(rng: handRNG)
            let inferred = Sequential(inputShape: [28, 28, 1], name: "mnist_cnn") {
                Conv2D(filters: 32, kernelSize: 3, activation: .relu, rng: inferredRNG)
                Conv2D(filters: 64, kernelSize: 3, activation: .relu, rng: inferredRNG)
                MaxPool2D(poolSize: 2)
                Dropout(rate: 0.25, rng: inferredRNG)
                Flatten()
                Dense(units: 128, activation: .relu, rng: inferredRNG)
                Dropout(rate: 0.5, rng: inferredRNG)
                Dense(units: 10, rng: inferredRNG)
            }
            let conv1 = inferred.layers[0] as! Conv2D, conv2 = inferred.layers[1] as! Conv2D
            #expect(conv1.inputChannels == 1 && conv2.inputChannels == 32)
            #expect(conv1.weight.value.shape == [3, 3, 1, 32] && conv2.weight.value.shape == [3, 3, 32, 64])
            #expect(inferred.parameterSignature.map(\.name) == hand.parameterSignature.map(\.name))
            #expect(inferred.parameterSignature.map(\.shape) == hand.parameterSignature.map(\.shape))
            #expect(inferred.parameterFingerprintBytes() == hand.parameterFingerprintBytes())
            #expect(inferredRNG.state == handRNG.state)
        }
    }

    @Test func inferredConv2DDrawsTheSameWeightsAsAnExplicitOne() {
        for (kernel, stride, padding) in [((3, 3), (1, 1), Padding.valid), ((5, 3), (2, 1), Padding.same)] {
            let a = Conv2D(filters: 6, kernelSize: kernel, stride: stride, padding: padding, initializer: .heNormal,
                           rng: RandomGenerator(seed: 4))
            #expect(!a.isBuilt && a.inputChannels == 0)
            a.build(inputShape: [1, 9, 9, 3])
            let b = Conv2D(inputChannels: 3, outputChannels: 6, kernelSize: kernel, stride: stride, padding: padding,
                           initializer: .heNormal, rng: RandomGenerator(seed: 4))
            #expect(a.isBuilt && a.inputChannels == 3)
            #expect(a.weight.value.shape == b.weight.value.shape)
            #expect(a.weight.value.scalars == b.weight.value.scalars)
            #expect(a.outputShape(for: [2, 9, 9, 3]) == b.outputShape(for: [2, 9, 9, 3]))
            // Building again with a fitting shape changes nothing.
            a.build(inputShape: [4, 9, 9, 3])
            #expect(a.weight.value.scalars == b.weight.value.scalars)
        }
    }

    @Test func conv2DFiltersTakesItsChannelsFromTheLayerBefore() {
        let rng = RandomGenerator(seed: 5)
        let model = Sequential(inputShape: [8, 8, 3]) {
            Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu, rng: rng)
            MaxPool2D(poolSize: 2)
            Conv2D(filters: 5, kernelSize: 2, stride: 2, rng: rng)
            Flatten()
            Dense(units: 2, rng: rng)
        }
        let conv1 = model.layers[0] as! Conv2D, conv2 = model.layers[2] as! Conv2D
        #expect(conv1.inputChannels == 3 && conv2.inputChannels == 4)
        #expect(conv2.weight.value.shape == [2, 2, 4, 5])
        #expect((model.layers[4] as! Dense).inputFeatures == 2 * 2 * 5)
        #expect(model.parameters.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                  "dense1.weight", "dense1.bias"])
        #expect(model.forward(Tensor.uniform([3, 8, 8, 3], rng: rng), training: false).shape == [3, 2])
    }

    @Test func sequentialWithoutInputShapeRefusesAnUnbuiltConv2D() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Sequential([Conv2D(filters: 3, kernelSize: 3, rng: RandomGenerator(seed: 1))], name: "m")
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("conv1") && text.contains("Sequential(inputShape:)"), "\(text)")
    }

    @Test func conv2DFiltersOnImagesWithoutChannelsNamesTheCallersShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Sequential(inputShape: [28, 28]) { Conv2D(filters: 8, kernelSize: 3, rng: RandomGenerator(seed: 1)) }
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("conv1") && text.contains("[1, 28, 28]") && text.contains("[28, 28, 1]"), "\(text)")
    }

    @Test func conv2DFiltersOnImagesSmallerThanTheKernelNamesTheCallersShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Sequential(inputShape: [2, 2, 1]) { Conv2D(filters: 8, kernelSize: 3, rng: RandomGenerator(seed: 1)) }
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Conv2D conv1") && text.contains("[1, 2, 2, 1]") && text.contains("kernel 3×3"), "\(text)")
    }

    @Test func conv2DChannelMismatchNamesTheLayerAndTheCallersShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, name: "conv2", rng: RandomGenerator(seed: 1))
            _ = layer.forward(Tensor.zeros([8, 26, 26, 16]), training: false)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Conv2D conv2 (in: 32, out: 64, kernel 3×3) got input shape [8, 26, 26, 16]"), "\(text)")
    }

    @Test func denseUnitsAfterFlattenInfersItsInputSize() {
        let rng = RandomGenerator(seed: 3)
        let model = Sequential(inputShape: [6, 6, 1]) {
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, rng: rng)
            Flatten()
            Dense(units: 3, activation: .relu, rng: rng)
            Dense(units: 4, rng: rng)
        }
        let dense1 = model.layers[2] as! Dense, dense2 = model.layers[3] as! Dense
        #expect(dense1.isBuilt && dense2.isBuilt)
        #expect(dense1.inputFeatures == 4 * 4 * 2 && dense1.weight.value.shape == [32, 3])
        #expect(dense2.inputFeatures == 3 && dense2.weight.value.shape == [3, 4])
        #expect(model.parameters.map(\.name) == ["conv1.weight", "conv1.bias", "dense1.weight", "dense1.bias",
                                                  "dense2.weight", "dense2.bias"])
        #expect(model.inputShape == [6, 6, 1])
        #expect(model.forward(Tensor.uniform([5, 6, 6, 1], rng: rng), training: false).shape == [5, 4])
        #expect(model.outputShape(for: [7, 6, 6, 1]) == [7, 4])
    }

    @Test func inferenceDocExampleInfersTheFlattenedSize() {
        // The example of Docs/CustomTrainingLoop.md, "Shapes are inferred from the input shape".
        let rng = RandomGenerator(seed: 7)
        let model = Sequential(inputShape: [28, 28, 1]) {
            Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 3, activation: .relu, rng: rng)
            MaxPool2D(poolSize: 2)
            Flatten()
            Dense(units: 128, activation: .relu, rng: rng)
            Dense(units: 10, rng: rng)
        }
        #expect((model.layers[3] as! Dense).inputFeatures == 5408)
        #expect(model.outputShape(for: [2, 28, 28, 1]) == [2, 10])
    }

    @Test func inferredDenseDrawsTheSameWeightsAsAHandSizedOne() {
        let a = Dense(units: 5, initializer: .heNormal, rng: RandomGenerator(seed: 9))
        #expect(!a.isBuilt && a.inputFeatures == 0)
        a.build(inputShape: [1, 7])
        let b = Dense(inputFeatures: 7, outputFeatures: 5, initializer: .heNormal, rng: RandomGenerator(seed: 9))
        #expect(a.weight.value.scalars == b.weight.value.scalars)
        // Building again with a fitting shape changes nothing.
        a.build(inputShape: [3, 7])
        #expect(a.weight.value.scalars == b.weight.value.scalars)
    }

    @Test func layerBuilderKeepsOrderAndHandlesConditionalsAndLoops() {
        let rng = RandomGenerator(seed: 1)
        for withDropout in [false, true] {
            let model = Sequential(inputShape: [4]) {
                for _ in 0..<2 { Dense(units: 4, activation: .relu, rng: rng) }
                if withDropout { Dropout(rate: 0.5, rng: rng) }
                Dense(units: 2, rng: rng)
            }
            #expect(model.layers.map(\.name) == ["dense1", "dense2"] + (withDropout ? ["dropout1"] : []) + ["dense3"])
        }
        let plain = Sequential { Flatten(); Dense(inputFeatures: 4, outputFeatures: 2, rng: rng) }
        #expect(plain.inputShape == nil && plain.layers.count == 2)
    }

    @Test func sequentialWithoutInputShapeRefusesAnUnbuiltDense() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Sequential([Flatten(), Dense(units: 3, rng: RandomGenerator(seed: 1))], name: "m")
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("dense1") && text.contains("Sequential(inputShape:)"), "\(text)")
    }

    @Test func denseOnImagesWithoutFlattenStopsAtConstructionSuggestingFlatten() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Sequential(inputShape: [4, 4, 1]) { Dense(units: 2, rng: RandomGenerator(seed: 1)) }
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("dense1") && text.contains("[1, 4, 4, 1]") && text.contains("Flatten()"), "\(text)")
    }

    @Test func denseShapeMismatchNamesTheLayerSizesAndTheCallersShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = Dense(inputFeatures: 9216, outputFeatures: 128, name: "dense1", rng: RandomGenerator(seed: 1))
            _ = layer.forward(Tensor.zeros([64, 9000]), training: false)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Dense dense1 (in: 9216, out: 128) got input shape [64, 9000]"), "\(text)")
    }

    @Test func modelWithDeclaredInputShapeNamesTheCallersShapeOnMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let model = Models.mnistCNN(rng: RandomGenerator(seed: 1))
            _ = model.forward(Tensor.zeros([2, 28, 28, 3]), training: false)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("mnist_cnn") && text.contains("[2, 28, 28, 3]") && text.contains("[28, 28, 1]"), "\(text)")
    }
}
