import CSpotKernels
import Synchronization

/// A 2-D convolution over NHWC images, computed as a matrix product over output pixels.
///
/// `out[n, oy, ox, f] = activation(b[f] + Σ_{ky,kx,c} in[n, oy·s+ky−pt, ox·s+kx−pl, c] · W[ky, kx, c, f])`
///
/// Shapes: input `[batch, height, width, inputChannels]`, weight `[kernelHeight,
/// kernelWidth, inputChannels, outputChannels]`, bias `[outputChannels]`, output `[batch,
/// outputHeight, outputWidth, outputChannels]`.
///
/// Viewing every window as a row of a matrix `[batch·outputHeight·outputWidth,
/// kernelHeight·kernelWidth·inputChannels]`, the output is that matrix times the weight viewed
/// as `[kernelHeight·kernelWidth·inputChannels, outputChannels]` (in NHWC the product is
/// already the output), the weight gradient is its transpose times the output gradient, and
/// the input gradient scatters back (`col2im`). ``algorithm`` chooses how: building the window
/// matrix for `sgemm` (``Algorithm/im2col``), reading windows straight from the image in
/// register tiles (``Algorithm/implicitGEMM``), or per pixel for shallow windows
/// (``Algorithm/direct``). With ``Algorithm/implicitGEMM`` a 3×3 forward pass uses
/// Winograd's minimal filtering (``winogradForward``) and the backward pass skips the zero
/// entries of a sparse output gradient (after max pooling and ReLU most are zero; see
/// ``sparseGradientDensity``). See `Docs/Performance.md`.
///
/// Give the input channels with `init(inputChannels:outputChannels:kernelSize:…)`, or leave
/// them to the model with `init(filters:kernelSize:…)`:
/// such a layer draws its weights in ``build(inputShape:)``, which
/// ``Sequential/init(inputShape:name:_:)`` calls in layer order with the shape that reaches
/// the layer (its last extent is the channel count).
public final class Conv2D: ShapeInferringLayer {
    /// The layer name; parameters are `"\(name).weight"` and `"\(name).bias"`.
    public var name: String {
        didSet { weight.name = "\(name).weight"; bias.name = "\(name).bias" }
    }
    /// `[kernelHeight, kernelWidth, inputChannels, outputChannels]` (`inputChannels` is 0
    /// until a layer made with `init(filters:…)` is built).
    public private(set) var weight: Parameter
    /// `[outputChannels]`.
    public let bias: Parameter
    /// Input channels (0 until a layer made with `init(filters:…)` is built).
    public private(set) var inputChannels: Int
    /// Output channels (filters).
    public let outputChannels: Int
    /// `(height, width)` of the kernel.
    public let kernelSize: (Int, Int)
    /// `(y, x)` stride.
    public let stride: (Int, Int)
    /// Border treatment.
    public let padding: Padding
    /// The fused activation.
    public let activation: Activation
    public var computesInputGradient = true
    /// How the layer computes its products; ``Algorithm/automatic`` by default. Every
    /// algorithm gives the same values up to float rounding.
    public var algorithm: Algorithm = .automatic
    /// The backward pass of ``Algorithm/implicitGEMM`` visits only the nonzero entries of an
    /// image's output gradient when at most this fraction of them is nonzero; otherwise it
    /// runs the dense kernels. Applies when ``inputChannels`` is a multiple of 8 (the
    /// kernels then work on whole vectors). After max pooling (one pixel per window
    /// receives a gradient), ReLU and dropout, most entries are zero: in the mnist_cnn's
    /// second convolution about one in six is not. Default 0.4 (where the two cost about the same here; see
    /// `Docs/Performance.md`); 0 turns the sparse pass off. Both give the same values up to
    /// float rounding, and each is deterministic, so results still do not depend on the
    /// thread count.
    public var sparseGradientDensity: Float = 0.4
    /// Whether ``Algorithm/implicitGEMM`` computes the forward pass of a 3×3 convolution with
    /// Winograd's F(2×2, 3×3) minimal filtering: 16 multiplications per 2×2 output tile and
    /// channel pair instead of 36, plus cheap additions to transform tiles in and out. On
    /// by default where it applies (3×3 kernel, ``inputChannels`` a multiple of 8); the
    /// results agree with the direct product up to float rounding (the transforms add a few
    /// ulps). See `Docs/Performance.md`.
    public var winogradForward = true

    var lastInput: Tensor?
    var geometry: ConvGeometry?
    var output: Tensor?
    var inputGradient: Tensor?
    var preActivationGradient: Tensor?
    var packedWeight = TensorStorage(uninitializedCount: 0)
    var packedFlipped = TensorStorage(uninitializedCount: 0)
    var kernelRows = TensorStorage(uninitializedCount: 0)
    var winogradWeight = TensorStorage(uninitializedCount: 0)
    let sparseScratch = SparseGradientScratch()
    let columnScratch = WorkerScratch()
    let columnGradientScratch = WorkerScratch()
    var weightPartials: TensorStorage?
    var biasPartials: UnsafeMutableBufferPointer<Double> = .init(start: nil, count: 0)

    /// The size of the `im2col` block one worker builds and multiplies at a time. The batch
    /// is lowered in chunks of whole images of about this size, so that each block is still in
    /// cache when `sgemm` reads it; chunks run in parallel, one per worker, and every
    /// reduction over chunks runs in a fixed order, so results do not depend on the thread
    /// count. Default 2 MiB. A tuning knob: changing it changes the rounding of the weight
    /// gradients (not their value).
    public static var columnChunkBytes: Int {
        get { chunkBytes.load(ordering: .relaxed) }
        set { chunkBytes.store(max(1, newValue), ordering: .relaxed) }
    }
    private static let chunkBytes = Atomic<Int>(2 << 20)

    /// How to draw the weights of a layer whose input channels are not known yet.
    private var pendingWeights: (initializer: Initializer, rng: RandomGenerator)?

    deinit { biasPartials.deallocate() }

    /// Creates a convolution.
    /// - Parameters:
    ///   - inputChannels: Channels of the input images.
    ///   - outputChannels: Number of filters.
    ///   - kernelSize: `(height, width)`.
    ///   - stride: `(y, x)` step (default 1).
    ///   - padding: `.valid` (default) or `.same`.
    ///   - activation: Fused activation (default none).
    ///   - initializer: Weight initialiser (default Glorot uniform); the bias starts at zero.
    ///   - name: Layer name (``Sequential`` assigns one if empty).
    ///   - rng: Generator for the initial weights.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding = .valid, activation: Activation = .linear,
                initializer: Initializer = .glorotUniform, name: String = "", rng: RandomGenerator) {
        precondition(inputChannels > 0 && outputChannels > 0,
                     "Conv2D: channels must be positive, got \(inputChannels) -> \(outputChannels)")
        precondition(kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0,
                     "Conv2D: kernel \(kernelSize) and stride \(stride) must be positive")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.activation = activation
        self.name = name
        let area = kernelSize.0 * kernelSize.1
        weight = Parameter(name: "\(name).weight",
                           value: initializer.make(shape: [kernelSize.0, kernelSize.1, inputChannels, outputChannels],
                                                   fanIn: area * inputChannels, fanOut: area * outputChannels, rng: rng))
        bias = Parameter(name: "\(name).bias", value: Tensor.zeros([outputChannels]))
    }

    /// Creates a convolution with a square kernel and stride.
    public convenience init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
                            padding: Padding = .valid, activation: Activation = .linear,
                            initializer: Initializer = .glorotUniform, name: String = "", rng: RandomGenerator) {
        self.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize),
                  stride: (stride, stride), padding: padding, activation: activation,
                  initializer: initializer, name: name, rng: rng)
    }

    /// Creates a convolution whose input channels are inferred when the model is built.
    ///
    /// The weights are drawn from `rng` in ``build(inputShape:)``, not here:
    /// ``Sequential/init(inputShape:name:_:)`` builds its layers in order, so a model whose
    /// layers all infer their inputs (this and ``Dense/init(units:activation:initializer:name:rng:)``)
    /// draws the same numbers in the same order as one that states every size. (A layer made
    /// with its sizes draws when it is created, before the model is built: mixing the two
    /// forms in one model changes the order of the draws.) Until it is built the layer has
    /// no usable weight, and a ``Sequential`` made without an input shape refuses it.
    /// - Parameters:
    ///   - filters: Output channels.
    ///   - kernelSize: `(height, width)`.
    ///   - stride: `(y, x)` step (default 1).
    ///   - padding: `.valid` (default) or `.same`.
    ///   - activation: Fused activation (default none).
    ///   - initializer: Weight initialiser (default Glorot uniform); the bias starts at zero.
    ///   - name: Layer name (``Sequential`` assigns one if empty).
    ///   - rng: Generator for the initial weights, drawn at build time.
    public init(filters: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1), padding: Padding = .valid,
                activation: Activation = .linear, initializer: Initializer = .glorotUniform, name: String = "",
                rng: RandomGenerator) {
        precondition(filters > 0, "Conv2D(filters: \(filters)): filters must be positive")
        precondition(kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0,
                     "Conv2D: kernel \(kernelSize) and stride \(stride) must be positive")
        self.inputChannels = 0
        self.outputChannels = filters
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.activation = activation
        self.name = name
        weight = Parameter(name: "\(name).weight", value: Tensor.zeros([kernelSize.0, kernelSize.1, 0, filters]))
        bias = Parameter(name: "\(name).bias", value: Tensor.zeros([filters]))
        pendingWeights = (initializer, rng)
    }

    /// Creates a convolution with a square kernel and stride whose input channels are
    /// inferred when the model is built (see `init(filters:kernelSize:…)` with a
    /// `(height, width)` kernel).
    /// - Parameters:
    ///   - filters: Output channels.
    ///   - kernelSize: Height and width of the kernel.
    ///   - stride: Step in both directions (default 1).
    ///   - padding: `.valid` (default) or `.same`.
    ///   - activation: Fused activation (default none).
    ///   - initializer: Weight initialiser (default Glorot uniform); the bias starts at zero.
    ///   - name: Layer name (``Sequential`` assigns one if empty).
    ///   - rng: Generator for the initial weights, drawn at build time.
    public convenience init(filters: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .valid,
                            activation: Activation = .linear, initializer: Initializer = .glorotUniform,
                            name: String = "", rng: RandomGenerator) {
        self.init(filters: filters, kernelSize: (kernelSize, kernelSize), stride: (stride, stride), padding: padding,
                  activation: activation, initializer: initializer, name: name, rng: rng)
    }

    /// Whether the weights exist (always, unless made with `init(filters:…)` and not built
    /// yet).
    public var isBuilt: Bool { pendingWeights == nil }

    /// Fixes the input channels from the shape that reaches the layer and draws the weights
    /// (exactly as the initializer with `inputChannels` would); on a built layer it only
    /// checks that the shape fits.
    /// - Parameter inputShape: `[batch, height, width, channels]` (NHWC), batch first.
    public func build(inputShape: [Int]) {
        guard let pending = pendingWeights else {
            _ = outputShape(for: inputShape)
            return
        }
        precondition(inputShape.count == 4 && inputShape[3] > 0,
                     "\(summary) got input shape \(inputShape), not [batch, height, width, channels] (NHWC)"
                        + (inputShape.count == 3 ? "; give the images a channel dimension: \(Array(inputShape.dropFirst()) + [1])" : ""))
        let channels = inputShape[3]
        let area = kernelSize.0 * kernelSize.1
        inputChannels = channels
        weight = Parameter(name: "\(name).weight",
                           value: pending.initializer.make(shape: [kernelSize.0, kernelSize.1, channels, outputChannels],
                                                           fanIn: area * channels, fanOut: area * outputChannels,
                                                           rng: pending.rng))
        pendingWeights = nil
        // The shape's height and width must fit the kernel too.
        _ = outputShape(for: inputShape)
    }

    /// `Conv2D conv1 (in: 1, out: 32, kernel 3×3)`, or `(filters: 32, kernel 3×3, not built)`
    /// before it is built: how messages name the layer.
    var summary: String {
        let kernel = "kernel \(kernelSize.0)×\(kernelSize.1)"
        return isBuilt ? "Conv2D \(name) (in: \(inputChannels), out: \(outputChannels), \(kernel))"
            : "Conv2D \(name) (filters: \(outputChannels), \(kernel), not built)"
    }

    public var parameters: [Parameter] { [weight, bias] }

    private func geometry(for inputShape: [Int]) -> ConvGeometry {
        precondition(isBuilt, "\(summary) has no input channels yet: create the model with "
                        + "Sequential(inputShape:) or call build(inputShape:) first")
        precondition(inputShape.count == 4 && inputShape[3] == inputChannels,
                     "\(summary) got input shape \(inputShape), expected [batch, height, width, \(inputChannels)] (NHWC)")
        let g = ConvGeometry(inputHeight: inputShape[1], inputWidth: inputShape[2],
                             kernel: kernelSize, stride: stride, padding: padding)
        precondition(g.outputHeight > 0 && g.outputWidth > 0,
                     "\(summary) got input shape \(inputShape): height and width are smaller than the kernel"
                        + (padding == .valid ? " (padding .valid)" : ""))
        return g
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        let g = geometry(for: inputShape)
        return [inputShape[0], g.outputHeight, g.outputWidth, outputChannels]
    }

    // out is (N, OH, OW, F), by the algorithm that applies (see `resolvedAlgorithm`):
    // Conv2D+Direct.swift, Conv2D+ImplicitGEMM.swift (with Conv2D+Winograd.swift) or
    // Conv2D+Im2col.swift.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let g = geometry(for: input.shape)
        let out: Tensor
        switch resolvedAlgorithm(g) {
        case .direct: out = forwardDirect(input, geometry: g)
        case .implicitGEMM: out = forwardImplicit(input, geometry: g)
        case .im2col, .automatic: out = forwardIm2col(input, geometry: g)
        }
        lastInput = input
        geometry = g
        return out
    }

    // dinput is (N, H, W, C); accumulates dW (KH·KW·C, F) and db (F), by the same algorithm
    // as the forward pass (the implicit one with Conv2D+Sparse.swift).
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let input = lastInput, let g = geometry, let out = output else {
            preconditionFailure("Conv2D \(name): backward called before forward")
        }
        precondition(outputGradient.shape == out.shape,
                     "Conv2D \(name): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        switch resolvedAlgorithm(g) {
        case .direct: return backwardDirect(outputGradient, input: input, output: out, geometry: g)
        case .implicitGEMM: return backwardImplicit(outputGradient, input: input, output: out, geometry: g)
        case .im2col, .automatic: return backwardIm2col(outputGradient, input: input, output: out, geometry: g)
        }
    }

    /// The algorithm that runs for inputs of `inputShape`: ``algorithm`` with
    /// ``Algorithm/automatic`` resolved and an inapplicable ``Algorithm/implicitGEMM``
    /// replaced by ``Algorithm/im2col``. Depends on ``computesInputGradient`` too.
    /// - Parameter inputShape: `[batch, height, width, inputChannels]`.
    /// - Returns: ``Algorithm/direct``, ``Algorithm/implicitGEMM`` or ``Algorithm/im2col``.
    public func algorithm(for inputShape: [Int]) -> Algorithm {
        resolvedAlgorithm(geometry(for: inputShape))
    }

    /// ``algorithm(for:)`` for a computed geometry.
    func resolvedAlgorithm(_ g: ConvGeometry) -> Algorithm {
        let implicitFits = g.strideY == 1 && g.strideX == 1 && g.padTop == 0 && g.padLeft == 0
            && outputChannels % 16 == 0 && (!computesInputGradient || inputChannels % 16 == 0)
        switch algorithm {
        case .direct, .im2col: return algorithm
        case .implicitGEMM: return implicitFits ? .implicitGEMM : .im2col
        case .automatic:
            if implicitFits && spot_kernels_use_avx2() == 1 { return .implicitGEMM }
            return kernelSize.0 * kernelSize.1 * inputChannels <= Conv2D.directDepthLimit ? .direct : .im2col
        }
    }

    /// Makes room for `chunks` weight partials (`depth × outputChannels` each) and bias
    /// partials, kept across batches.
    func preparePartials(chunks: Int, depth: Int) {
        let f = outputChannels
        if weightPartials == nil || weightPartials!.count < chunks * depth * f {
            weightPartials = TensorStorage(uninitializedCount: chunks * depth * f)
        }
        if biasPartials.count < chunks * f {
            biasPartials.deallocate()
            biasPartials = .allocate(capacity: chunks * f)
        }
    }

    /// Adds the per-chunk weight and bias partials to the gradients, in chunk order (so the
    /// result does not depend on the thread count).
    func sumPartials(chunks: Int, depth: Int) {
        let f = outputChannels
        let partialW = weightPartials!.pointer, partialB = biasPartials.baseAddress!
        let dW = weight.gradient.pointer, db = bias.gradient.pointer
        Parallel.forChunks(count: depth * f, minimumChunk: 4096) { range in
            for chunk in 0..<chunks {
                let p = partialW + chunk * depth * f
                for e in range { dW[e] += p[e] }
            }
        }
        for j in 0..<f {
            var sum = 0.0
            for chunk in 0..<chunks { sum += partialB[chunk * f + j] }
            db[j] += Float(sum)
        }
    }
}

/// Sums the rows of a `rows × columns` matrix into `sums` (overwritten): rows are added in
/// blocks of 64 in `Float` (this vectorises), the blocks in `Double`. Serial; `columns` is at
/// most a few thousand.
func columnSums(_ data: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Double>) {
    for j in 0..<columns { sums[j] = 0 }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: columns) { block in
        let b = block.baseAddress!
        var r = 0
        while r < rows {
            let end = min(rows, r + 64)
            for j in 0..<columns { b[j] = 0 }
            for rr in r..<end {
                let row = data + rr * columns
                for j in 0..<columns { b[j] += row[j] }
            }
            for j in 0..<columns { sums[j] += Double(b[j]) }
            r = end
        }
    }
}

/// One image's output gradient through the fused activation, for the backward passes that
/// work image by image (direct and implicit): `dy` gets `raw` masked where the output is not
/// positive (when `relu`) or a copy of it, and its column sums are added to the bias partial
/// `pb` (`sums` is scratch for them). `raw`, `output` and `dy` are `[pixels, channels]`.
@inline(__always)
func imageGradient(_ raw: UnsafePointer<Float>, output y: UnsafePointer<Float>, relu: Bool, pixels: Int,
                   channels f: Int, into dy: UnsafeMutablePointer<Float>, biasPartial pb: UnsafeMutablePointer<Double>,
                   sums ib: UnsafeMutablePointer<Double>) {
    if relu {
        reluMask(output: y, gradient: raw, into: dy, count: pixels * f)
    } else {
        dy.update(from: raw, count: pixels * f)
    }
    columnSums(dy, rows: pixels, columns: f, into: ib)
    for j in 0..<f { pb[j] += ib[j] }
}

extension Conv2D {
    /// How ``Conv2D`` computes its forward and backward products.
    public enum Algorithm: String, Sendable, CaseIterable {
        /// ``implicitGEMM`` where it applies and the CPU has AVX2 and FMA; otherwise
        /// ``direct`` when a window holds at most ``Conv2D/directDepthLimit`` values
        /// (`kernelHeight·kernelWidth·inputChannels`), else ``im2col``.
        case automatic
        /// Lower every window into a row of a matrix and multiply it with `sgemm` (best when
        /// windows are deep: the product then dominates the copying).
        case im2col
        /// Loop over output pixels and accumulate each window straight into the output
        /// channels, without `sgemm` (best for shallow windows such as the first layer of an
        /// image network, where `sgemm` with an inner dimension of 9 wastes most of its time).
        case direct
        /// Stride-1 `valid` convolutions as a matrix product computed straight from the
        /// image (no window matrix, no `col2im`): 6 output pixels × 16 channels per register
        /// tile, bias and activation fused; the input gradient is the same kernel run on the
        /// zero-bordered output gradient with the flipped kernel. Needs `outputChannels` (and,
        /// when the input gradient is computed, `inputChannels`) to be multiples of 16;
        /// other geometries run ``im2col``. ``automatic`` picks it wherever it applies when
        /// the CPU has AVX2 and FMA.
        case implicitGEMM
    }

    /// The deepest window (`kernelHeight·kernelWidth·inputChannels`) for which
    /// ``Algorithm/automatic`` picks ``Algorithm/direct``: 32.
    public static let directDepthLimit = 32
}
