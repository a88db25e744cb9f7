/// A fully connected layer: `y = activation(x · W + b)`.
///
/// Shapes: input `[batch, inputFeatures]`, weight `[inputFeatures, outputFeatures]`,
/// bias `[outputFeatures]`, output `[batch, outputFeatures]`. Both products run on
/// OpenBLAS `sgemm`.
public final class Dense: Layer {
    /// The layer name; parameters are `"\(name).weight"` and `"\(name).bias"`.
    public var name: String {
        didSet { weight.name = "\(name).weight"; bias.name = "\(name).bias" }
    }
    /// `[inputFeatures, outputFeatures]`.
    public let weight: Parameter
    /// `[outputFeatures]`.
    public let bias: Parameter
    /// The fused activation.
    public let activation: Activation
    /// The number of input features.
    public let inputFeatures: Int
    /// The number of output features.
    public let outputFeatures: Int
    public var computesInputGradient = true

    private var lastInput: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var preActivationGradient: Tensor?

    /// Creates a dense layer.
    /// - Parameters:
    ///   - inputFeatures: Features per input example.
    ///   - outputFeatures: Units.
    ///   - activation: Fused activation (default none).
    ///   - initializer: Weight initialiser (default Glorot uniform); the bias starts at zero.
    ///   - name: Layer name (``Sequential`` assigns one if empty).
    ///   - rng: Generator for the initial weights.
    public init(inputFeatures: Int, outputFeatures: Int, activation: Activation = .linear,
                initializer: Initializer = .glorotUniform, name: String = "", rng: RandomGenerator) {
        precondition(inputFeatures > 0 && outputFeatures > 0,
                     "Dense: features must be positive, got \(inputFeatures) -> \(outputFeatures)")
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        self.activation = activation
        self.name = name
        weight = Parameter(name: "\(name).weight",
                           value: initializer.make(shape: [inputFeatures, outputFeatures],
                                                   fanIn: inputFeatures, fanOut: outputFeatures, rng: rng))
        bias = Parameter(name: "\(name).bias", value: Tensor.zeros([outputFeatures]))
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 2 && inputShape[1] == inputFeatures,
                     "Dense \(name): input shape \(inputShape) does not match [batch, \(inputFeatures)]")
        return [inputShape[0], outputFeatures]
    }

    // out is (N, outputFeatures)
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let shape = outputShape(for: input.shape)
        let n = shape[0]
        let out = reuse(&output, shape: shape)
        BLAS.sgemm(m: n, n: outputFeatures, k: inputFeatures,
                   a: input.pointer, b: weight.value.pointer, beta: 0, c: out.pointer)
        addBiasActivate(out.pointer, rows: n, columns: outputFeatures,
                        bias: bias.value.pointer, activation: activation)
        lastInput = input
        return out
    }

    // dinput is (N, inputFeatures); accumulates dW (inputFeatures, outputFeatures) and db.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let input = lastInput, let out = output else {
            preconditionFailure("Dense \(name): backward called before forward")
        }
        precondition(outputGradient.shape == out.shape,
                     "Dense \(name): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        let n = input.shape[0]
        let g = activationBackward(activation, output: out, gradient: outputGradient, scratch: &preActivationGradient)
        // dW += xᵀ · g
        BLAS.sgemm(transposeA: true, m: inputFeatures, n: outputFeatures, k: n,
                   a: input.pointer, b: g.pointer, beta: 1, c: weight.gradient.pointer)
        accumulateColumnSums(g.pointer, rows: n, columns: outputFeatures, into: bias.gradient.pointer)
        let dx = reuse(&inputGradient, shape: input.shape)
        if computesInputGradient {
            // dx = g · Wᵀ
            BLAS.sgemm(transposeB: true, m: n, n: inputFeatures, k: outputFeatures,
                       a: g.pointer, b: weight.value.pointer, beta: 0, c: dx.pointer)
        }
        return dx
    }
}
