import CSpotKernels
import Testing
import SpotTrain

/// The BLAS-backed kernels against naive loops.
@Suite struct KernelReferenceTests {
    @Test(arguments: [(3, 1, Padding.valid), (3, 2, Padding.same), (5, 2, Padding.valid), (1, 1, Padding.valid)],
          [Conv2D.Algorithm.im2col, .direct])
    func conv2DForwardMatchesDirectConvolution(geometry: (kernel: Int, stride: Int, padding: Padding),
                                               algorithm: Conv2D.Algorithm) {
        let (kernel, stride, padding) = geometry
        let rng = RandomGenerator(seed: 30)
        let layer = Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: kernel, stride: stride, padding: padding, rng: rng)
        layer.algorithm = algorithm
        for i in 0..<4 { layer.bias.value.pointer[i] = Float(i) * 0.1 }
        let x = Tensor.uniform([3, 9, 8, 3], lower: -1, upper: 1, rng: rng)
        let y = layer.forward(x, training: false)
        let g = ConvGeometry(inputHeight: 9, inputWidth: 8, kernel: (kernel, kernel), stride: (stride, stride), padding: padding)
        let reference = Im2Col.convolutionReference(input: x, weight: layer.weight.value, geometry: g)
        #expect(y.shape == reference.shape)
        for i in 0..<y.count {
            #expect(abs(y.pointer[i] - (reference.pointer[i] + Float(i % 4) * 0.1)) < 1e-4)
        }
    }

    /// `direct`, `implicitGEMM` and `im2col` compute the same output and gradients, on
    /// channel counts and widths that reach every SIMD block and tail of the kernels (32, 8
    /// and single channels; 6-pixel tiles and their remainders).
    @Test(arguments: [(kernel: 3, stride: 1, padding: Padding.valid, channels: 1, filters: 41, activation: Activation.relu),
                      (kernel: 3, stride: 2, padding: .same, channels: 2, filters: 8, activation: .linear),
                      (kernel: 2, stride: 1, padding: .same, channels: 3, filters: 3, activation: .relu),
                      (kernel: 5, stride: 2, padding: .valid, channels: 1, filters: 70, activation: .linear),
                      (kernel: 3, stride: 1, padding: .valid, channels: 6, filters: 33, activation: .relu),
                      (kernel: 3, stride: 1, padding: .valid, channels: 16, filters: 32, activation: .relu),
                      (kernel: 2, stride: 1, padding: .valid, channels: 32, filters: 16, activation: .linear),
                      (kernel: 4, stride: 1, padding: .valid, channels: 16, filters: 48, activation: .relu)],
          [Conv2D.Algorithm.direct, .implicitGEMM])
    func conv2DAlgorithmsAgree(_ c: (kernel: Int, stride: Int, padding: Padding, channels: Int, filters: Int,
                                     activation: Activation), other: Conv2D.Algorithm) {
        let rng = RandomGenerator(seed: 34)
        func layer(_ algorithm: Conv2D.Algorithm) -> Conv2D {
            let layer = Conv2D(inputChannels: c.channels, outputChannels: c.filters, kernelSize: c.kernel,
                               stride: c.stride, padding: c.padding, activation: c.activation,
                               rng: RandomGenerator(seed: 35))
            layer.bias.value.assign(from: Tensor.uniform([c.filters], lower: -0.2, upper: 0.2, rng: RandomGenerator(seed: 36)))
            layer.algorithm = algorithm
            layer.computesInputGradient = true
            return layer
        }
        let lowered = layer(.im2col), direct = layer(other)
        let x0Shape = [5, 9, 15, c.channels]
        let fits = c.stride == 1 && c.padding == .valid && c.filters % 16 == 0 && c.channels % 16 == 0
        #expect(direct.algorithm(for: x0Shape) == (other == .implicitGEMM && !fits ? .im2col : other))
        let x = Tensor.uniform(x0Shape, lower: -1, upper: 1, rng: rng)
        let y1 = lowered.forward(x, training: true).copy(), y2 = direct.forward(x, training: true).copy()
        let dy = Tensor.uniform(y1.shape, lower: -1, upper: 1, rng: rng)
        let dx1 = lowered.backward(dy).copy(), dx2 = direct.backward(dy).copy()
        func close(_ a: Tensor, _ b: Tensor, _ label: String) {
            #expect(a.shape == b.shape, "\(label) shape")
            var worst: Float = 0
            for i in 0..<min(a.count, b.count) { worst = max(worst, abs(a.pointer[i] - b.pointer[i])) }
            let scale = max(1, a.scalars.map(abs).max() ?? 0)
            #expect(worst <= 1e-5 * scale, "\(other) \(label): largest difference \(worst) at scale \(scale)")
        }
        close(y1, y2, "output")
        close(dx1, dx2, "input gradient")
        close(lowered.weight.gradient, direct.weight.gradient, "weight gradient")
        close(lowered.bias.gradient, direct.bias.gradient, "bias gradient")
        #expect(y1.scalars.contains { $0 != 0 } && dx2.scalars.contains { $0 != 0 })
    }

    /// The first layer of the mnist_cnn (one input channel, no input gradient): the
    /// algorithms that apply give im2col's output and parameter gradients.
    @Test(arguments: [Conv2D.Algorithm.direct, .implicitGEMM])
    func firstLayerGradientsAgreeWithoutInputGradient(other: Conv2D.Algorithm) {
        func layer(_ algorithm: Conv2D.Algorithm) -> Conv2D {
            let layer = Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 3, activation: .relu,
                               rng: RandomGenerator(seed: 38))
            layer.bias.value.assign(from: Tensor.uniform([32], lower: -0.2, upper: 0.2, rng: RandomGenerator(seed: 39)))
            layer.algorithm = algorithm
            layer.computesInputGradient = false
            return layer
        }
        let lowered = layer(.im2col), candidate = layer(other)
        let shape = [6, 28, 28, 1]
        #expect(candidate.algorithm(for: shape) == other)
        let x = Tensor.uniform(shape, rng: RandomGenerator(seed: 40))
        let y1 = lowered.forward(x, training: true).copy(), y2 = candidate.forward(x, training: true).copy()
        let dy = Tensor.uniform(y1.shape, lower: -1, upper: 1, rng: RandomGenerator(seed: 41))
        _ = lowered.backward(dy)
        _ = candidate.backward(dy)
        for (a, b, label) in [(y1, y2, "output"), (lowered.weight.gradient, candidate.weight.gradient, "weight gradient"),
                              (lowered.bias.gradient, candidate.bias.gradient, "bias gradient")] {
            let scale = max(1, a.scalars.map(abs).max() ?? 0)
            let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-5 * scale, "\(other) \(label): largest difference \(worst) at scale \(scale)")
        }
    }

    @Test func automaticPicksImplicitWhereItAppliesThenDirectForShallowWindows() {
        let rng = RandomGenerator(seed: 37)
        let shallow = Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: 3, rng: rng)   // depth 27
        let deep = Conv2D(inputChannels: 4, outputChannels: 4, kernelSize: 3, rng: rng)      // depth 36
        #expect(shallow.algorithm == .automatic && Conv2D.directDepthLimit == 32)
        #expect(shallow.algorithm(for: [2, 6, 6, 3]) == .direct)
        #expect(deep.algorithm(for: [2, 6, 6, 4]) == .im2col)
        let model = Models.mnistCNN(rng: rng)
        let conv1 = model.layers[0] as! Conv2D, conv2 = model.layers[1] as! Conv2D
        let avx2 = spot_kernels_use_avx2() == 1
        #expect(conv1.computesInputGradient == false)  // the first layer (set by Sequential)
        #expect(conv1.algorithm(for: [8, 28, 28, 1]) == (avx2 ? .implicitGEMM : .direct))
        #expect(conv2.algorithm(for: [8, 26, 26, 32]) == (avx2 ? .implicitGEMM : .im2col))
        // The input gradient of a 1-channel image does not fit 16-channel panels.
        conv1.computesInputGradient = true
        #expect(conv1.algorithm(for: [8, 28, 28, 1]) == .direct)
        let strided = Conv2D(inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 2, rng: rng)
        #expect(strided.algorithm(for: [2, 9, 9, 32]) == .im2col)
        // Both give the reference result whichever algorithm runs.
        for layer in [shallow, deep] {
            let x = Tensor.uniform([2, 6, 6, layer.inputChannels], lower: -1, upper: 1, rng: rng)
            let g = ConvGeometry(inputHeight: 6, inputWidth: 6, kernel: (3, 3), stride: (1, 1), padding: .valid)
            let reference = Im2Col.convolutionReference(input: x, weight: layer.weight.value, geometry: g)
            let y = layer.forward(x, training: false)
            for i in 0..<y.count { #expect(abs(y.pointer[i] - reference.pointer[i]) < 1e-5) }
        }
    }

    @Test func im2colScatterIsTheAdjointOfGather() {
        // <gather(x), c> == <x, scatter(c)> for any x, c.
        let rng = RandomGenerator(seed: 31)
        let g = ConvGeometry(inputHeight: 7, inputWidth: 6, kernel: (3, 2), stride: (2, 1), padding: .same)
        let x = Tensor.uniform([2, 7, 6, 3], lower: -1, upper: 1, rng: rng)
        let rows = 2 * g.outputHeight * g.outputWidth, depth = 3 * 2 * 3
        let gathered = Tensor.zeros([rows, depth])
        Im2Col.gather(x.pointer, batch: 2, channels: 3, geometry: g, into: gathered.pointer)
        let c = Tensor.uniform([rows, depth], lower: -1, upper: 1, rng: rng)
        let scattered = Tensor.zeros(x.shape)
        Im2Col.scatter(c.pointer, batch: 2, channels: 3, geometry: g, into: scattered.pointer)
        var lhs = 0.0, rhs = 0.0
        for i in 0..<gathered.count { lhs += Double(gathered.pointer[i]) * Double(c.pointer[i]) }
        for i in 0..<x.count { rhs += Double(x.pointer[i]) * Double(scattered.pointer[i]) }
        #expect(abs(lhs - rhs) < 1e-3)
    }

    @Test func denseForwardMatchesNaiveLoop() {
        let rng = RandomGenerator(seed: 32)
        let layer = Dense(inputFeatures: 37, outputFeatures: 19, activation: .relu, rng: rng)
        for i in 0..<19 { layer.bias.value.pointer[i] = Float(i - 9) * 0.05 }
        let x = Tensor.uniform([11, 37], lower: -1, upper: 1, rng: rng)
        let y = layer.forward(x, training: false)
        for n in 0..<11 {
            for o in 0..<19 {
                var s = Double(layer.bias.value[o])
                for i in 0..<37 { s += Double(x[n, i]) * Double(layer.weight.value[i, o]) }
                #expect(abs(Double(y[n, o]) - max(s, 0)) < 1e-4)
            }
        }
    }

    @Test func maxPoolForwardMatchesNaiveLoop() {
        let x = Tensor.uniform([2, 6, 7, 3], lower: -1, upper: 1, rng: RandomGenerator(seed: 33))
        let layer = MaxPool2D(poolSize: 2)
        let y = layer.forward(x, training: false)
        #expect(y.shape == [2, 3, 3, 3])
        for n in 0..<2 { for oy in 0..<3 { for ox in 0..<3 { for c in 0..<3 {
            let m = [x[n, 2*oy, 2*ox, c], x[n, 2*oy+1, 2*ox, c], x[n, 2*oy, 2*ox+1, c], x[n, 2*oy+1, 2*ox+1, c]].max()!
            #expect(y[n, oy, ox, c] == m)
        } } } }
    }

    @Test func resultsDoNotDependOnOwnThreadCount() {
        let before = Threading.threads
        defer { Threading.configureOwnLoops(threads: before) }
        func run(_ threads: Int) -> [Float] {
            Threading.configureOwnLoops(threads: threads)
            let rng = RandomGenerator(seed: 40)
            let model = Models.mnistCNN(rng: rng)
            let x = Tensor.uniform([6, 28, 28, 1], rng: RandomGenerator(seed: 41))
            let y = model.forward(x, training: true)
            let labels: [Int32] = [0, 1, 2, 3, 4, 5]
            let (_, dy, _) = SoftmaxCrossEntropy()(logits: y, labels: labels)
            _ = model.backward(dy)
            return y.scalars + model.parameters.flatMap { $0.gradient.scalars }
                + [Float(bitPattern: UInt32(truncatingIfNeeded: rng.state))]
        }
        let one = run(1), three = run(3)
        #expect(one.count > 1_000_000)
        #expect(one == three)
    }
}
