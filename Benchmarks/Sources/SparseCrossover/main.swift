// Where the sparse backward pass of a convolution stops paying: times the mnist_cnn's conv2
// backward (batch 128, [26,26,32] -> 64 filters 3x3) on output gradients with a given
// fraction of nonzero entries (at random positions), once with the dense kernels
// (`sparseGradientDensity = 0`) and once with the sparse ones (`= 1`); best of `repeats`.
// `Conv2D.sparseGradientDensity`'s default comes from this table.
//
//   swift run -c release sparse-crossover [repeats=5] [threads=all]
import Foundation
import SpotTrain

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let repeats = max(1, arguments.count > 0 ? arguments[0] : 5)
if arguments.count > 1 { Threading.configure(threads: arguments[1]) }

let batch = 128
let layer = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, rng: RandomGenerator(seed: 1))
let input = Tensor.uniform([batch, 26, 26, 32], rng: RandomGenerator(seed: 2))
_ = layer.forward(input, training: true)
let clock = ContinuousClock()

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
}

print("conv2 backward, batch \(batch), \(Threading.threads) threads, best of \(repeats)")
print("nonzero   dense ms   sparse ms   sparse/dense")
for density in [0.05, 0.10, 0.17, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.60] {
    let gradient = Tensor.uniform([batch, 24, 24, 64], lower: -1, upper: 1, rng: RandomGenerator(seed: 3))
    let keep = Tensor.uniform(gradient.shape, rng: RandomGenerator(seed: 4))
    for i in 0..<gradient.count where keep.pointer[i] >= Float(density) { gradient.pointer[i] = 0 }
    var best: [Double] = []
    for limit: Float in [0, 1] {
        layer.sparseGradientDensity = limit
        _ = layer.backward(gradient)
        var fastest = Double.infinity
        for _ in 0..<repeats { fastest = min(fastest, milliseconds(clock.measure { _ = layer.backward(gradient) })) }
        best.append(fastest)
    }
    print(String(format: "  %.2f     %8.2f    %8.2f       %.2f", density, best[0], best[1], best[1] / best[0]))
}
