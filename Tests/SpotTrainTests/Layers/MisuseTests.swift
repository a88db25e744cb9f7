import Foundation
import Testing
import SpotTrain

/// Programmer misuse stops the process with a message that names both shapes (in every build
/// configuration, including `-c release`).
@Suite struct MisuseTests {
    @Test func denseShapeMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = Dense(inputFeatures: 3, outputFeatures: 2, name: "d", rng: RandomGenerator(seed: 1))
            _ = layer.forward(Tensor.zeros([4, 5]), training: false)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("[4, 5]") && text.contains("[batch, 3]"), "\(text)")
    }

    @Test func convChannelMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = Conv2D(inputChannels: 3, outputChannels: 2, kernelSize: 3, name: "c", rng: RandomGenerator(seed: 1))
            _ = layer.forward(Tensor.zeros([1, 8, 8, 1]), training: false)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("[1, 8, 8, 1]") && text.contains("[batch, height, width, 3]"), "\(text)")
    }
}
