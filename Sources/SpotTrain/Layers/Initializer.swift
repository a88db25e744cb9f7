/// How a layer's weights are initialised. Biases always start at zero (Keras's default).
///
/// Fan-in and fan-out follow Keras: for a dense weight `[inputFeatures, outputFeatures]`
/// they are the two dimensions; for a convolution kernel `[kh, kw, inputChannels,
/// outputChannels]` they are `kh·kw·inputChannels` and `kh·kw·outputChannels`.
public enum Initializer: Sendable, Equatable {
    /// Glorot (Xavier) uniform: `U(-l, l)` with `l = sqrt(6 / (fanIn + fanOut))` (Keras's default).
    case glorotUniform
    /// He uniform: `U(-l, l)` with `l = sqrt(6 / fanIn)`, for ReLU networks.
    case heUniform
    /// He normal: `N(0, sqrt(2 / fanIn))` (not truncated).
    case heNormal
    /// Every element zero.
    case zeros

    /// Creates a tensor of `shape` initialised by this scheme.
    /// - Parameters:
    ///   - shape: The weight shape.
    ///   - fanIn: Inputs per output unit.
    ///   - fanOut: Outputs per input unit.
    ///   - rng: The generator to draw from.
    /// - Returns: A new tensor.
    public func make(shape: [Int], fanIn: Int, fanOut: Int, rng: RandomGenerator) -> Tensor {
        switch self {
        case .glorotUniform:
            let limit = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
            return Tensor.uniform(shape, lower: -limit, upper: limit, rng: rng)
        case .heUniform:
            let limit = Float((6.0 / Double(fanIn)).squareRoot())
            return Tensor.uniform(shape, lower: -limit, upper: limit, rng: rng)
        case .heNormal:
            return Tensor.normal(shape, standardDeviation: Float((2.0 / Double(fanIn)).squareRoot()), rng: rng)
        case .zeros:
            return Tensor.zeros(shape)
        }
    }
}
