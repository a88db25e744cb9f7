// Times each layer of the mnist_cnn (forward and backward) and the optimizer over a number
// of training steps, after warm-up, and prints milliseconds per step, share of the step and
// the GFLOP/s of the matrix-product layers.
//
//   swift run -c release layer-profile [batch=128] [steps=20] [threads=all]
import Foundation
import SpotTrain

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let batch = arguments.count > 0 ? arguments[0] : 128
let steps = arguments.count > 1 ? arguments[1] : 20
if arguments.count > 2 { Threading.configure(threads: arguments[2]) }

let rng = RandomGenerator(seed: 1)
let model = Models.mnistCNN(rng: rng)
// SPOTTRAIN_CONV_ALGORITHM=im2col|direct|implicitGEMM|automatic forces every Conv2D's algorithm.
if let name = ProcessInfo.processInfo.environment["SPOTTRAIN_CONV_ALGORITHM"] {
    guard let algorithm = Conv2D.Algorithm(rawValue: name) else { fatalError("unknown algorithm \(name)") }
    for case let conv as Conv2D in model.layers { conv.algorithm = algorithm }
}
// SPOTTRAIN_SPARSE_DENSITY=0.4 sets every Conv2D's sparseGradientDensity (0: dense only).
if let text = ProcessInfo.processInfo.environment["SPOTTRAIN_SPARSE_DENSITY"] {
    guard let density = Float(text) else { fatalError("not a number: \(text)") }
    for case let conv as Conv2D in model.layers { conv.sparseGradientDensity = density }
}
let optimizer = Adam()
let loss = SoftmaxCrossEntropy()
let x = Tensor.uniform([batch, 28, 28, 1], rng: rng)
let labels = (0..<batch).map { Int32($0 % 10) }
let clock = ContinuousClock()

var forward = [Duration](repeating: .zero, count: model.layers.count)
var backward = [Duration](repeating: .zero, count: model.layers.count)
var lossTime = Duration.zero, optimizerTime = Duration.zero, total = Duration.zero

@MainActor func step(record: Bool) {
    let start = clock.now
    model.zeroGradients()
    var t = x
    for (i, layer) in model.layers.enumerated() {
        let t0 = clock.now
        t = layer.forward(t, training: true)
        if record { forward[i] += t0.duration(to: clock.now) }
    }
    let t1 = clock.now
    var g = labels.withUnsafeBufferPointer { loss(logits: t, labels: $0).gradient }
    if record { lossTime += t1.duration(to: clock.now) }
    for (i, layer) in model.layers.enumerated().reversed() {
        let t0 = clock.now
        g = layer.backward(g)
        if record { backward[i] += t0.duration(to: clock.now) }
    }
    let t2 = clock.now
    optimizer.step(model.parameters)
    if record {
        optimizerTime += t2.duration(to: clock.now)
        total += start.duration(to: clock.now)
    }
}

for _ in 0..<3 { step(record: false) }
for _ in 0..<steps { step(record: true) }

@MainActor func ms(_ d: Duration) -> Double { d.seconds * 1000 / Double(steps) }
let stepMs = ms(total)
print("mnist_cnn, batch \(batch), \(steps) steps, \(Threading.threads) threads (OpenBLAS \(Threading.blasThreads))")
print("layer        forward ms  backward ms   share   GFLOP/s (fwd / bwd)")
for (i, layer) in model.layers.enumerated() {
    var flops: (Double, Double)? = nil
    if let c = layer as? Conv2D {
        let out = model.layers[0...i].reduce([batch, 28, 28, 1]) { $1.outputShape(for: $0) }
        let macs = Double(out.reduce(1, *)) * Double(c.kernelSize.0 * c.kernelSize.1 * c.inputChannels)
        flops = (2 * macs, 2 * macs * (c.computesInputGradient ? 2 : 1))
    } else if let d = layer as? Dense {
        let macs = Double(batch * d.inputFeatures * d.outputFeatures)
        flops = (2 * macs, 4 * macs)
    }
    let f = ms(forward[i]), b = ms(backward[i])
    var line = layer.name.padding(toLength: 12, withPad: " ", startingAt: 0)
        + String(format: "%10.2f %12.2f %7.1f%%", f, b, 100 * (f + b) / stepMs)
    if let (ff, bf) = flops { line += String(format: "   %6.1f / %6.1f", ff / f / 1e6, bf / b / 1e6) }
    print(line)
}
print(String(format: "loss        %10.2f", ms(lossTime)))
print(String(format: "optimizer   %10.2f %19.1f%%", ms(optimizerTime), 100 * ms(optimizerTime) / stepMs))
print(String(format: "step        %10.2f ms = %.0f samples/s, %.1f GFLOP/s at 71.6 MFLOP/sample",
             stepMs, Double(batch) / stepMs * 1000, Double(batch) * 71.6e6 / (stepMs / 1000) / 1e9))
