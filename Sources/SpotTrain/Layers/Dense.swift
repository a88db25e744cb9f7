/// A fully connected layer: `y = activation(x · W + b)`.
///
/// Shapes: input `[batch, inputFeatures]`, weight `[inputFeatures, outputFeatures]`,
/// bias `[outputFeatures]`, output `[batch, outputFeatures]`. Both products run on
/// OpenBLAS `sgemm`.
///
/// Give the input size with ``init(inputFeatures:outputFeatures:activation:initializer:name:rng:)``,
/// or leave it to the model with ``init(units:activation:initializer:name:rng:)``: such a
/// layer draws its weights in ``build(inputShape:)``, which ``Sequential/init(inputShape:name:_:)``
/// calls in layer order once it knows the shape that reaches the layer (after a ``Flatten``,
/// for instance).
public final class Dense: ShapeInferringLayer {
    /// The layer name; parameters are `"\(name).weight"` and `"\(name).bias"`.
    public var name: String {
        didSet { weight.name = "\(name).weight"; bias.name = "\(name).bias" }
    }
    /// `[inputFeatures, outputFeatures]` (`[0, outputFeatures]` until a layer made with
    /// ``init(units:activation:initializer:name:rng:)`` is built).
    public private(set) var weight: Parameter
    /// `[outputFeatures]`.
    public let bias: Parameter
    /// The fused activation.
    public let activation: Activation
    /// The number of input features (0 until a layer made with
    /// ``init(units:activation:initializer:name:rng:)`` is built).
    public private(set) var inputFeatures: Int
    /// The number of output features.
    public let outputFeatures: Int
    public var computesInputGradient = true

    /// How to draw the weights of a layer whose input size is not known yet.
    private var pendingWeights: (initializer: Initializer, rng: RandomGenerator)?

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

    /// Creates a dense layer whose input size is inferred when the model is built.
    ///
    /// The weights are drawn from `rng` in ``build(inputShape:)``, not here:
    /// ``Sequential/init(inputShape:name:_:)`` builds its layers in order, so a model whose
    /// every `Dense` is made this way draws the same numbers in the same order as one that
    /// states every input size (the convolutions draw when they are created, before the
    /// model is built). Until it is built the layer has no usable weight, and a
    /// ``Sequential`` made without an input shape refuses it.
    /// - Parameters:
    ///   - units: Output features.
    ///   - activation: Fused activation (default none).
    ///   - initializer: Weight initialiser (default Glorot uniform); the bias starts at zero.
    ///   - name: Layer name (``Sequential`` assigns one if empty).
    ///   - rng: Generator for the initial weights, drawn at build time.
    public init(units: Int, activation: Activation = .linear, initializer: Initializer = .glorotUniform,
                name: String = "", rng: RandomGenerator) {
        precondition(units > 0, "Dense(units: \(units)): units must be positive")
        self.inputFeatures = 0
        self.outputFeatures = units
        self.activation = activation
        self.name = name
        weight = Parameter(name: "\(name).weight", value: Tensor.zeros([0, units]))
        bias = Parameter(name: "\(name).bias", value: Tensor.zeros([units]))
        pendingWeights = (initializer, rng)
    }

    /// Whether the weights exist (always, unless made with
    /// ``init(units:activation:initializer:name:rng:)`` and not built yet).
    public var isBuilt: Bool { pendingWeights == nil }

    /// Fixes the input size from the shape that reaches the layer and draws the weights;
    /// on a built layer it only checks that the shape fits.
    /// - Parameter inputShape: `[batch, inputFeatures]`, batch first.
    public func build(inputShape: [Int]) {
        guard let pending = pendingWeights else {
            _ = outputShape(for: inputShape)
            return
        }
        precondition(inputShape.count == 2 && inputShape[1] > 0,
                     "\(summary) got input shape \(inputShape), not [batch, features]"
                        + (inputShape.count > 2 ? "; put Flatten() before it" : ""))
        let features = inputShape[1]
        inputFeatures = features
        weight = Parameter(name: "\(name).weight",
                           value: pending.initializer.make(shape: [features, outputFeatures], fanIn: features,
                                                           fanOut: outputFeatures, rng: pending.rng))
        pendingWeights = nil
    }

    /// `Dense dense1 (in: 9216, out: 128)`, or `(units: 128)` before it is built: how
    /// messages name the layer.
    var summary: String {
        isBuilt ? "Dense \(name) (in: \(inputFeatures), out: \(outputFeatures))"
            : "Dense \(name) (units: \(outputFeatures), not built)"
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(isBuilt, "\(summary) has no input size yet: create the model with "
                        + "Sequential(inputShape:) or call build(inputShape:) first")
        precondition(inputShape.count == 2 && inputShape[1] == inputFeatures,
                     "\(summary) got input shape \(inputShape), expected [batch, \(inputFeatures)]"
                        + (inputShape.count > 2 ? "; put Flatten() before it" : ""))
        return [inputShape[0], outputFeatures]
    }

    /// Output (and input) features per independent `sgemm` block. Blocks run in parallel,
    /// one single-threaded `sgemm` each; their number depends only on the shapes, so results
    /// do not depend on the thread count.
    static let blockColumns = 64
    static let inputBlockColumns = 1024

    // out is (N, outputFeatures): column blocks out[:, j0..<j1] = x · W[:, j0..<j1].
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let shape = outputShape(for: input.shape)
        let n = shape[0], k = inputFeatures, m = outputFeatures
        let out = reuse(&output, shape: shape)
        let x = input.pointer, w = weight.value.pointer, y = out.pointer, b = bias.value.pointer
        let activation = self.activation
        let blocks = (m + Dense.blockColumns - 1) / Dense.blockColumns
        Parallel.forWorkers(count: blocks) { _, range in
            for block in range {
                let j0 = block * Dense.blockColumns, j1 = min(m, j0 + Dense.blockColumns)
                BLAS.sgemm(m: n, n: j1 - j0, k: k, a: x, b: w + j0, ldb: m, beta: 0, c: y + j0, ldc: m)
                for r in 0..<n {
                    let row = y + r * m
                    switch activation {
                    case .linear: for j in j0..<j1 { row[j] += b[j] }
                    case .relu: for j in j0..<j1 { row[j] = max(row[j] + b[j], 0) }
                    }
                }
            }
        }
        lastInput = input
        return out
    }

    // dinput is (N, inputFeatures); accumulates dW (inputFeatures, outputFeatures) and db.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let input = lastInput, let out = output else {
            preconditionFailure("\(summary): backward called before forward")
        }
        precondition(outputGradient.shape == out.shape,
                     "\(summary): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        let n = input.shape[0], k = inputFeatures, m = outputFeatures
        let g = activationBackward(activation, output: out, gradient: outputGradient, scratch: &preActivationGradient)
        let x = input.pointer, gp = g.pointer, dW = weight.gradient.pointer, w = weight.value.pointer
        // dW[:, j0..<j1] += xᵀ · g[:, j0..<j1]
        let blocks = (m + Dense.blockColumns - 1) / Dense.blockColumns
        Parallel.forWorkers(count: blocks) { _, range in
            for block in range {
                let j0 = block * Dense.blockColumns, j1 = min(m, j0 + Dense.blockColumns)
                BLAS.sgemm(transposeA: true, m: k, n: j1 - j0, k: n, a: x, lda: k, b: gp + j0, ldb: m,
                           beta: 1, c: dW + j0, ldc: m)
            }
        }
        accumulateColumnSums(gp, rows: n, columns: m, into: bias.gradient.pointer)
        let dx = reuse(&inputGradient, shape: input.shape)
        if computesInputGradient {
            // dx[:, i0..<i1] = g · W[i0..<i1, :]ᵀ
            let dxp = dx.pointer
            let inputBlocks = (k + Dense.inputBlockColumns - 1) / Dense.inputBlockColumns
            Parallel.forWorkers(count: inputBlocks) { _, range in
                for block in range {
                    let i0 = block * Dense.inputBlockColumns, i1 = min(k, i0 + Dense.inputBlockColumns)
                    BLAS.sgemm(transposeB: true, m: n, n: i1 - i0, k: m, a: gp, b: w + i0 * m, ldb: m,
                               beta: 0, c: dxp + i0, ldc: k)
                }
            }
        }
        return dx
    }
}
