import Testing
import SpotTrain

/// Every optimizer hyperparameter is a `Double` in the API and in the exported state; the
/// update uses the learning rate as the nearest `Float`, so a `Double` rate trains exactly
/// like that `Float` did (the runs pinned by weight hashes are unchanged).
@Suite struct OptimizerHyperparameterTests {
    static func stepped(_ make: () -> any Optimizer, steps: Int = 3) -> [Float] {
        let parameter = Parameter(name: "w", value: Tensor(shape: [3], values: [0.25, -1.5, 3]))
        let optimizer = make()
        for step in 0..<steps {
            parameter.gradient.assign(from: Tensor(shape: [3], values: [0.5, -0.125 * Float(step + 1), 1e-3]))
            optimizer.step([parameter])
        }
        return (0..<3).map { parameter.value[$0] }
    }

    @Test func learningRateIsExportedAsGivenAndUsedAsTheNearestFloat() {
        for rate in [1e-3, 0.01, 0.1, 0.0005, 0.3] {
            let widened = Double(Float(rate))
            #expect(rate != widened)
            #expect(Adam(learningRate: rate).exportState().hyperparameters["learningRate"] == rate)
            #expect(SGD(learningRate: rate).exportState().hyperparameters["learningRate"] == rate)
            #expect(Self.stepped { Adam(learningRate: rate, weightDecay: 0.01) }.map(\.bitPattern)
                    == Self.stepped { Adam(learningRate: widened, weightDecay: 0.01) }.map(\.bitPattern))
            #expect(Self.stepped { SGD(learningRate: rate, momentum: 0.9, weightDecay: 1e-3) }.map(\.bitPattern)
                    == Self.stepped { SGD(learningRate: widened, momentum: 0.9, weightDecay: 1e-3) }.map(\.bitPattern))
        }
    }

    @Test func protocolLearningRateIsADoubleLikeTheOtherHyperparameters() {
        let optimizers: [any Optimizer] = [Adam(learningRate: 0.002, beta1: 0.8), SGD(learningRate: 0.2, momentum: 0.5)]
        for optimizer in optimizers {
            let rate: Double = optimizer.learningRate
            optimizer.learningRate = rate / 2
            #expect(optimizer.exportState().hyperparameters["learningRate"] == rate / 2)
        }
    }
}
