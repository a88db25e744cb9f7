import Benchmark
import SpotTrain

/// One training step of the mnist_cnn at batch 128: forward, loss, backward (no optimizer).
/// Reported per step; 71.6 MFLOP per sample means 9.17 GFLOP per step.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 50
    )

    Benchmark("mnist_cnn forward+backward, batch 128") { benchmark in
        let rng = RandomGenerator(seed: 1)
        let model = Models.mnistCNN(rng: rng)
        let loss = SoftmaxCrossEntropy()
        let x = Tensor.uniform([128, 28, 28, 1], rng: rng)
        let labels = (0..<128).map { Int32($0 % 10) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            model.zeroGradients()
            let logits = model.forward(x, training: true)
            let (_, dlogits, _) = loss(logits: logits, labels: labels)
            blackHole(model.backward(dlogits))
        }
    }
}
