import Testing
import SpotTrain

/// Finite-difference gradient checking for layers, with `f(x) = Σ forward(x) ⊙ R` for a
/// fixed random `R`, so that `∂f/∂output = R`.
struct GradientCheck {
    var epsilon: Float = 1e-2
    var absoluteTolerance: Double = 2e-3
    var relativeTolerance: Double = 1e-2

    /// The generator whose state is reset before every forward pass (for dropout).
    var stochastic: RandomGenerator?

    func objective(_ layer: Layer, _ input: Tensor, _ r: Tensor, training: Bool) -> Double {
        let saved = stochastic?.state
        let out = layer.forward(input, training: training)
        if let saved { stochastic?.state = saved }
        var sum = 0.0
        for (a, b) in zip(out.buffer, r.buffer) { sum += Double(a) * Double(b) }
        return sum
    }

    /// Compares analytic input and parameter gradients with central differences.
    /// - Returns: Number of entries compared (so the test can assert it did something).
    @discardableResult
    func check(_ layer: Layer, input: Tensor, training: Bool = true, checkInput: Bool = true,
               sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        let rng = RandomGenerator(seed: 99)
        let outShape = layer.outputShape(for: input.shape)
        let r = Tensor.uniform(outShape, lower: -1, upper: 1, rng: rng)
        layer.zeroGradients()
        let saved = stochastic?.state
        _ = layer.forward(input, training: training)
        let dx = layer.backward(r).copy()
        if let saved { stochastic?.state = saved }
        let analyticParams = layer.parameters.map { $0.gradient.copy() }
        var compared = 0

        func compare(_ tensor: Tensor, _ analytic: Tensor, _ label: String) {
            for i in 0..<tensor.count {
                let original = tensor.pointer[i]
                tensor.pointer[i] = original + epsilon
                let plus = objective(layer, input, r, training: training)
                tensor.pointer[i] = original - epsilon
                let minus = objective(layer, input, r, training: training)
                tensor.pointer[i] = original
                let numeric = (plus - minus) / (2 * Double(epsilon))
                let a = Double(analytic.pointer[i])
                let ok = abs(a - numeric) <= absoluteTolerance + relativeTolerance * max(abs(a), abs(numeric))
                #expect(ok, "\(label)[\(i)]: analytic \(a) vs numeric \(numeric)", sourceLocation: sourceLocation)
                compared += 1
            }
        }
        if checkInput { compare(input, dx, "input") }
        for (p, g) in zip(layer.parameters, analyticParams) { compare(p.value, g, p.name) }
        return compared
    }
}

/// Values `0, s, 2s, …` in a random order: distinct and spaced, so max pooling and ReLU
/// have no ties or kinks within a finite-difference step.
func spacedValues(_ shape: [Int], spacing: Float = 0.05, offset: Float = 0, seed: UInt64) -> Tensor {
    let n = shape.reduce(1, *)
    var order = Array(0..<n)
    RandomGenerator(seed: seed).shuffle(&order)
    let center = Float(n) / 2
    return Tensor(shape: shape, values: order.map { (Float($0) - center) * spacing + offset })
}
