import Testing
import SpotTrain

@Suite struct OptimizerKernelTests {
    /// A tensor large enough to be split across threads must update exactly like a small one
    /// that is updated inline: every element's result depends only on its own inputs.
    @Test func largeTensorsUpdateBitIdenticallyToSmallOnes() {
        // 70 000 elements: above the optimizers' 2 × 32 768 threshold for splitting.
        let small = 1_000, repeats = 70
        let rng = RandomGenerator(seed: 5)
        let values = Tensor.normal([small], rng: rng).scalars
        let optimizers: [any Optimizer] = [
            Adam(learningRate: 1e-2, weightDecay: 0.1),
            SGD(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01),
            SGD(learningRate: 0.1, weightDecay: 0.01),
        ]
        for optimizer in optimizers {
            let smallParameter = Parameter(name: "small", value: Tensor(shape: [small], values: values))
            let largeParameter = Parameter(name: "large", value: Tensor.zeros([repeats, small]))
            tile(values, into: largeParameter.value)
            for step in 0..<3 {
                let gradient = Tensor.normal([small], rng: RandomGenerator(seed: UInt64(step))).scalars
                smallParameter.gradient.assign(from: Tensor(shape: [small], values: gradient))
                tile(gradient, into: largeParameter.gradient)
                optimizer.step([smallParameter, largeParameter])
            }
            let expected = smallParameter.value.scalars.map(\.bitPattern)
            let large = largeParameter.value.buffer
            #expect(expected != values.map(\.bitPattern))
            #expect((0..<large.count).allSatisfy { large[$0].bitPattern == expected[$0 % small] },
                    "\(type(of: optimizer)): a chunk of the large tensor differs from the small one")
        }
    }

    /// Fills `tensor` with copies of `pattern`.
    private func tile(_ pattern: [Float], into tensor: Tensor) {
        pattern.withUnsafeBufferPointer { source in
            for start in stride(from: 0, to: tensor.count, by: pattern.count) {
                (tensor.pointer + start).update(from: source.baseAddress!, count: pattern.count)
            }
        }
    }

    /// An element with a zero gradient (and zero moments) is not moved by Adam without decay.
    @Test func adamLeavesZeroGradientElementsInPlace() {
        let parameter = Parameter(name: "w", value: Tensor(shape: [2], values: [0.25, -1.5]))
        parameter.gradient.assign(from: Tensor(shape: [2], values: [0, 0.5]))
        let adam = Adam()
        adam.step([parameter])
        #expect(parameter.value[0] == 0.25)
        // First step with bias correction: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε).
        let expected = -1.5 - 1e-3 * 0.5 / (0.5 + 1e-7)
        #expect(abs(Double(parameter.value[1]) - expected) <= 1e-6 * 1.5)
    }

    @Test func learningRateChangeTakesEffectOnNextStep() {
        let parameter = Parameter(name: "w", value: Tensor(shape: [1], values: [1]))
        parameter.gradient.assign(from: Tensor(shape: [1], values: [2]))
        let sgd = SGD(learningRate: 0.1)
        sgd.step([parameter])
        sgd.learningRate = 0.25
        sgd.step([parameter])
        #expect(parameter.value[0] == Float(1) - Float(0.1) * 2 - Float(0.25) * 2)
        #expect(sgd.exportState().hyperparameters["learningRate"] == 0.25)
    }
}
