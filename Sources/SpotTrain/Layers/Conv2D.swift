/// How a convolution or pooling window treats the border.
public enum Padding: String, Sendable, Codable {
    /// No padding: only windows that fit entirely inside the input.
    case valid
    /// Zero padding so that `output = ceil(input / stride)`; when the total padding is odd
    /// the extra row/column goes at the bottom/right (TensorFlow's convention).
    case same
}

/// The geometry of a 2-D window sliding over an NHWC image.
public struct ConvGeometry: Equatable, Sendable {
    /// Input height and width.
    public let inputHeight: Int, inputWidth: Int
    /// Window height and width.
    public let kernelHeight: Int, kernelWidth: Int
    /// Step between windows.
    public let strideY: Int, strideX: Int
    /// Zero rows above and columns left of the input.
    public let padTop: Int, padLeft: Int
    /// Output height and width.
    public let outputHeight: Int, outputWidth: Int

    /// Computes the geometry.
    /// - Parameters:
    ///   - inputHeight: Rows of the input.
    ///   - inputWidth: Columns of the input.
    ///   - kernel: `(height, width)` of the window.
    ///   - stride: `(y, x)` step.
    ///   - padding: Border treatment.
    public init(inputHeight: Int, inputWidth: Int, kernel: (Int, Int), stride: (Int, Int), padding: Padding) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        (kernelHeight, kernelWidth) = kernel
        (strideY, strideX) = stride
        switch padding {
        case .valid:
            outputHeight = inputHeight >= kernel.0 ? (inputHeight - kernel.0) / stride.0 + 1 : 0
            outputWidth = inputWidth >= kernel.1 ? (inputWidth - kernel.1) / stride.1 + 1 : 0
            padTop = 0
            padLeft = 0
        case .same:
            outputHeight = (inputHeight + stride.0 - 1) / stride.0
            outputWidth = (inputWidth + stride.1 - 1) / stride.1
            padTop = max((outputHeight - 1) * stride.0 + kernel.0 - inputHeight, 0) / 2
            padLeft = max((outputWidth - 1) * stride.1 + kernel.1 - inputWidth, 0) / 2
        }
    }
}

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
public final class Conv2D: Layer {
    /// The layer name; parameters are `"\(name).weight"` and `"\(name).bias"`.
    public var name: String {
        didSet { weight.name = "\(name).weight"; bias.name = "\(name).bias" }
    }
    /// `[kernelHeight, kernelWidth, inputChannels, outputChannels]`.
    public let weight: Parameter
    /// `[outputChannels]`.
    public let bias: Parameter
    /// Input channels.
    public let inputChannels: Int
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

    fileprivate var lastInput: Tensor?
    fileprivate var geometry: ConvGeometry?
    fileprivate var output: Tensor?
    fileprivate var inputGradient: Tensor?
    private var preActivationGradient: Tensor?
    fileprivate var packedWeight = TensorStorage(uninitializedCount: 0)
    fileprivate var packedFlipped = TensorStorage(uninitializedCount: 0)
    fileprivate var kernelRows = TensorStorage(uninitializedCount: 0)
    fileprivate var winogradWeight = TensorStorage(uninitializedCount: 0)
    fileprivate let sparseScratch = SparseGradientScratch()
    fileprivate let columnScratch = WorkerScratch()
    fileprivate let columnGradientScratch = WorkerScratch()
    fileprivate var weightPartials: TensorStorage?
    fileprivate var biasPartials: UnsafeMutableBufferPointer<Double> = .init(start: nil, count: 0)

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

    public var parameters: [Parameter] { [weight, bias] }

    private func geometry(for inputShape: [Int]) -> ConvGeometry {
        precondition(inputShape.count == 4 && inputShape[3] == inputChannels,
                     "Conv2D \(name): input shape \(inputShape) does not match [batch, height, width, \(inputChannels)]")
        let g = ConvGeometry(inputHeight: inputShape[1], inputWidth: inputShape[2],
                             kernel: kernelSize, stride: stride, padding: padding)
        precondition(g.outputHeight > 0 && g.outputWidth > 0,
                     "Conv2D \(name): input shape \(inputShape) is smaller than kernel \(kernelSize)")
        return g
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        let g = geometry(for: inputShape)
        return [inputShape[0], g.outputHeight, g.outputWidth, outputChannels]
    }

    /// Images per `im2col` chunk for this geometry (see ``columnChunkBytes``).
    private func imagesPerChunk(_ g: ConvGeometry, batch: Int) -> Int {
        let bytesPerImage = g.outputHeight * g.outputWidth * g.kernelHeight * g.kernelWidth * inputChannels * 4
        return max(1, min(batch, Conv2D.columnChunkBytes / max(bytesPerImage, 1)))
    }

    // out is (N, OH, OW, F); each worker builds im2col blocks (rows·OH·OW, KH·KW·C) in turn.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let g = geometry(for: input.shape)
        switch resolvedAlgorithm(g) {
        case .direct: return forwardDirect(input, geometry: g)
        case .implicitGEMM: return forwardImplicit(input, geometry: g)
        default: break
        }
        let n = input.shape[0]
        let windows = g.outputHeight * g.outputWidth
        let depth = g.kernelHeight * g.kernelWidth * inputChannels
        let f = outputChannels
        let out = reuse(&output, shape: [n, g.outputHeight, g.outputWidth, f])
        let perChunk = imagesPerChunk(g, batch: n)
        let chunks = (n + perChunk - 1) / perChunk
        columnScratch.prepare(workers: Parallel.workerCount(for: chunks), count: perChunk * windows * depth)
        let x = input.pointer, w = weight.value.pointer, b = bias.value.pointer, y = out.pointer
        let activation = self.activation, scratch = columnScratch, channels = inputChannels
        Parallel.forWorkers(count: chunks) { worker, range in
            let cols = scratch.pointer(worker)
            for chunk in range {
                let first = chunk * perChunk, rows = (min(n, first + perChunk) - first) * windows
                let r0 = first * windows
                Im2Col.gatherRows(x, rows: r0..<(r0 + rows), channels: channels, geometry: g, into: cols)
                BLAS.sgemm(m: rows, n: f, k: depth, a: cols, b: w, beta: 0, c: y + r0 * f)
                addBiasActivateSerial(y + r0 * f, rows: rows, columns: f, bias: b, activation: activation)
            }
        }
        lastInput = input
        geometry = g
        return out
    }

    // dinput is (N, H, W, C); accumulates dW (KH·KW·C, F) and db (F). Per chunk: the
    // pre-activation gradient, the im2col block again (cheaper than keeping it), a partial dW
    // and db, and the chunk's input gradient; then the partials are summed in chunk order.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let input = lastInput, let g = geometry, let out = output else {
            preconditionFailure("Conv2D \(name): backward called before forward")
        }
        precondition(outputGradient.shape == out.shape,
                     "Conv2D \(name): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        switch resolvedAlgorithm(g) {
        case .direct: return backwardDirect(outputGradient, input: input, output: out, geometry: g)
        case .implicitGEMM: return backwardImplicit(outputGradient, input: input, output: out, geometry: g)
        default: break
        }
        let n = input.shape[0]
        let windows = g.outputHeight * g.outputWidth
        let depth = g.kernelHeight * g.kernelWidth * inputChannels
        let f = outputChannels
        let perChunk = imagesPerChunk(g, batch: n)
        let chunks = (n + perChunk - 1) / perChunk
        let workers = Parallel.workerCount(for: chunks)
        columnScratch.prepare(workers: workers, count: perChunk * windows * depth)
        let needsInputGradient = computesInputGradient
        if needsInputGradient {
            columnGradientScratch.prepare(workers: workers, count: perChunk * windows * depth)
        }
        preparePartials(chunks: chunks, depth: depth)
        let dx = reuse(&inputGradient, shape: input.shape)
        let dyRaw = outputGradient.pointer, yOut = out.pointer
        let dyPre: UnsafeMutablePointer<Float> = activation == .linear
            ? dyRaw : reuse(&preActivationGradient, shape: out.shape).pointer
        let x = input.pointer, w = weight.value.pointer, dxp = dx.pointer
        let partialW = weightPartials!.pointer, partialB = biasPartials.baseAddress!
        let cols = columnScratch, dcols = columnGradientScratch
        let activation = self.activation, channels = inputChannels
        Parallel.forWorkers(count: chunks) { worker, range in
            let c = cols.pointer(worker)
            for chunk in range {
                let first = chunk * perChunk, last = min(n, first + perChunk)
                let rows = (last - first) * windows, r0 = first * windows
                let dy = dyPre + r0 * f
                if activation == .relu {
                    let raw = dyRaw + r0 * f, y = yOut + r0 * f
                    reluMask(output: y, gradient: raw, into: dy, count: rows * f)
                }
                Im2Col.gatherRows(x, rows: r0..<(r0 + rows), channels: channels, geometry: g, into: c)
                BLAS.sgemm(transposeA: true, m: depth, n: f, k: rows, a: c, b: dy, beta: 0,
                           c: partialW + chunk * depth * f)
                columnSums(dy, rows: rows, columns: f, into: partialB + chunk * f)
                if needsInputGradient {
                    let d = dcols.pointer(worker)
                    BLAS.sgemm(transposeB: true, m: rows, n: depth, k: f, a: dy, b: w, beta: 0, c: d)
                    Im2Col.scatterImages(d, images: first..<last, channels: channels, geometry: g, into: dxp)
                }
            }
        }
        sumPartials(chunks: chunks, depth: depth)
        return dx
    }

    /// Whether ``algorithm`` resolves to ``Algorithm/direct`` for this layer.
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
    fileprivate func preparePartials(chunks: Int, depth: Int) {
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
    fileprivate func sumPartials(chunks: Int, depth: Int) {
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

    /// Images per work item of the direct algorithm's backward pass.
    private static let directImagesPerChunk = 4

    // Direct forward, per image: gather the image's windows (a small `[OH·OW, depth]`
    // matrix, in cache) and multiply it by the weight with `spot_small_depth_product`, which
    // keeps 32 output channels of a pixel in registers and fuses bias and activation.
    fileprivate func forwardDirect(_ input: Tensor, geometry g: ConvGeometry) -> Tensor {
        let n = input.shape[0], f = outputChannels, channels = inputChannels
        let depth = g.kernelHeight * g.kernelWidth * channels
        let out = reuse(&output, shape: [n, g.outputHeight, g.outputWidth, f])
        let x = input.pointer, w = weight.value.pointer, b = bias.value.pointer, y = out.pointer
        let relu: Int32 = activation == .relu ? 1 : 0
        let windows = g.outputHeight * g.outputWidth
        columnScratch.prepare(workers: Parallel.workerCount(for: n), count: windows * depth)
        let scratch = columnScratch
        Parallel.forWorkers(count: n) { worker, images in
            let win = scratch.pointer(worker)
            for image in images {
                let r0 = image * windows
                Im2Col.gatherRows(x, rows: r0..<(r0 + windows), channels: channels, geometry: g, into: win)
                spot_small_depth_product(win, w, b, windows, depth, f, relu, y + r0 * f)
            }
        }
        lastInput = input
        geometry = g
        return out
    }

    // Direct backward, per image: the gradient through the activation and the image's
    // windows (both small, in cache); `spot_small_depth_weight_gradient` adds windowsᵀ·dy to
    // the work item's weight partial with three weight rows of 32 channels in registers. The
    // bias partial sums dy; the input gradient (when needed) gets `W[d, :]·dy` at each window
    // position. Work items of `directImagesPerChunk` images; partials reduced in order.
    fileprivate func backwardDirect(_ outputGradient: Tensor, input: Tensor, output out: Tensor,
                                    geometry g: ConvGeometry) -> Tensor {
        let n = input.shape[0], f = outputChannels, channels = inputChannels
        let depth = g.kernelHeight * g.kernelWidth * channels
        let windows = g.outputHeight * g.outputWidth
        let perChunk = Conv2D.directImagesPerChunk
        let chunks = (n + perChunk - 1) / perChunk
        preparePartials(chunks: chunks, depth: depth)
        let workers = Parallel.workerCount(for: chunks)
        columnScratch.prepare(workers: workers, count: windows * depth)
        columnGradientScratch.prepare(workers: workers, count: windows * f)
        let needsInputGradient = computesInputGradient
        let dx = reuse(&inputGradient, shape: input.shape)
        let x = input.pointer, w = weight.value.pointer, dxp = dx.pointer
        let dyRaw = outputGradient.pointer, yOut = out.pointer
        let partialW = weightPartials!.pointer, partialB = biasPartials.baseAddress!
        let relu = activation == .relu
        let imageSize = g.inputHeight * g.inputWidth * channels
        let cols = columnScratch, grads = columnGradientScratch
        Parallel.forWorkers(count: chunks) { worker, range in
            let win = cols.pointer(worker), dy = grads.pointer(worker)
            withUnsafeTemporaryAllocation(of: Double.self, capacity: f) { imageBias in
                let ib = imageBias.baseAddress!
                for chunk in range {
                    let pw = partialW + chunk * depth * f, pb = partialB + chunk * f
                    for e in 0..<(depth * f) { pw[e] = 0 }
                    for j in 0..<f { pb[j] = 0 }
                    for image in (chunk * perChunk)..<min(n, (chunk + 1) * perChunk) {
                        let r0 = image * windows
                        if relu {
                            reluMask(output: yOut + r0 * f, gradient: dyRaw + r0 * f, into: dy, count: windows * f)
                        } else {
                            dy.update(from: dyRaw + r0 * f, count: windows * f)
                        }
                        columnSums(dy, rows: windows, columns: f, into: ib)
                        for j in 0..<f { pb[j] += ib[j] }
                        Im2Col.gatherRows(x, rows: r0..<(r0 + windows), channels: channels, geometry: g, into: win)
                        spot_small_depth_weight_gradient(win, dy, windows, depth, f, pw)
                        guard needsInputGradient else { continue }
                        let d = dxp + image * imageSize
                        for e in 0..<imageSize { d[e] = 0 }
                        for p in 0..<windows {
                            // Reuse the window's row for W·dy (the window itself is no longer needed).
                            let column = win + p * depth, gp = dy + p * f
                            for k in 0..<depth {
                                let wr = w + k * f
                                var s: Float = 0
                                for j in 0..<f { s += wr[j] * gp[j] }
                                column[k] = s
                            }
                            Im2Col.scatterWindow(column, row: r0 + p, channels: channels, geometry: g, into: dxp)
                        }
                    }
                }
            }
        }
        sumPartials(chunks: chunks, depth: depth)
        return dx
    }
}

extension Conv2D {
    /// Images per work item of the implicit algorithm's backward pass.
    private static let implicitImagesPerChunk = 4

    // Implicit forward, one image per work item (see `spot_conv_s1_forward`).
    fileprivate func forwardImplicit(_ input: Tensor, geometry g: ConvGeometry) -> Tensor {
        let n = input.shape[0], f = outputChannels, c = inputChannels
        let depth = g.kernelHeight * g.kernelWidth * c
        let out = reuse(&output, shape: [n, g.outputHeight, g.outputWidth, f])
        if winogradForward && g.kernelHeight == 3 && g.kernelWidth == 3 && c % 8 == 0 {
            return forwardWinograd(input, output: out, geometry: g)
        }
        if packedWeight.count < depth * f { packedWeight = TensorStorage(uninitializedCount: depth * f) }
        spot_pack_panels16(weight.value.pointer, depth, f, packedWeight.pointer)
        let x = input.pointer, packed = packedWeight.pointer, b = bias.value.pointer, y = out.pointer
        let relu: Int32 = activation == .relu ? 1 : 0
        let imageSize = g.inputHeight * g.inputWidth * c, outSize = g.outputHeight * g.outputWidth * f
        Parallel.forWorkers(count: n) { _, images in
            for image in images {
                spot_conv_s1_forward(x + image * imageSize, g.inputWidth, c, packed, b, g.kernelHeight, g.kernelWidth,
                                     f, g.outputHeight, g.outputWidth, relu, y + image * outSize)
            }
        }
        lastInput = input
        geometry = g
        return out
    }

    // Winograd F(2×2, 3×3) forward, one image per work item (see `spot_winograd_forward`).
    fileprivate func forwardWinograd(_ input: Tensor, output out: Tensor, geometry g: ConvGeometry) -> Tensor {
        let n = input.shape[0], f = outputChannels, c = inputChannels
        let oh = g.outputHeight, ow = g.outputWidth
        if winogradWeight.count < 16 * c * f { winogradWeight = TensorStorage(uninitializedCount: 16 * c * f) }
        spot_winograd_pack_weights(weight.value.pointer, c, f, winogradWeight.pointer)
        columnScratch.prepare(workers: Parallel.workerCount(for: n), count: spot_winograd_scratch_count(c, f, ow))
        let x = input.pointer, u = winogradWeight.pointer, b = bias.value.pointer, y = out.pointer
        let relu: Int32 = activation == .relu ? 1 : 0
        let imageSize = g.inputHeight * g.inputWidth * c, outSize = oh * ow * f
        let scratch = columnScratch
        Parallel.forWorkers(count: n) { worker, images in
            let space = scratch.pointer(worker)
            for image in images {
                spot_winograd_forward(x + image * imageSize, c, u, b, f, oh, ow, relu, y + image * outSize, space)
            }
        }
        lastInput = input
        geometry = g
        return out
    }

    // Implicit backward, work items of `implicitImagesPerChunk` images. Per image: the
    // gradient through the activation, its column sums (bias), the weight gradient added
    // to the work item's partial, and (if needed) the input gradient: the output gradient
    // with a zero border of kernel−1 pixels, convolved with the flipped kernel.
    fileprivate func backwardImplicit(_ outputGradient: Tensor, input: Tensor, output out: Tensor,
                                      geometry g: ConvGeometry) -> Tensor {
        let n = input.shape[0], f = outputChannels, c = inputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth, oh = g.outputHeight, ow = g.outputWidth
        let depth = kh * kw * c
        let perChunk = Conv2D.implicitImagesPerChunk
        let chunks = (n + perChunk - 1) / perChunk
        preparePartials(chunks: chunks, depth: depth)
        let needsInputGradient = computesInputGradient
        // The zero-bordered output gradient: (oh + 2(kh−1)) × (ow + 2(kw−1)) pixels.
        let padH = oh + 2 * (kh - 1), padW = ow + 2 * (kw - 1)
        let workers = Parallel.workerCount(for: chunks)
        columnGradientScratch.prepare(workers: workers, count: oh * ow * f)
        if needsInputGradient {
            columnScratch.prepare(workers: workers, count: padH * padW * f)
            if packedFlipped.count < depth * f { packedFlipped = TensorStorage(uninitializedCount: depth * f) }
            spot_pack_flipped_panels16(weight.value.pointer, kh, kw, c, f, packedFlipped.pointer)
        }
        // The sparse pass: nonzero entries listed per image (their counts and input offsets
        // are Int32).
        let sparseLimit = Int(Double(sparseGradientDensity) * Double(oh * ow * f))
        let sparse = sparseGradientDensity > 0 && c % 8 == 0
            && max(g.inputHeight * g.inputWidth * c, oh * ow * f) < Int(Int32.max)
        if sparse {
            sparseScratch.prepare(workers: workers, pixels: oh * ow, channels: f, depth: depth)
            if needsInputGradient {
                if kernelRows.count < depth * f { kernelRows = TensorStorage(uninitializedCount: depth * f) }
                spot_transpose_kernel_rows(weight.value.pointer, kh, kw, c, f, kernelRows.pointer)
            }
        }
        let dx = reuse(&inputGradient, shape: input.shape)
        let x = input.pointer, dxp = dx.pointer, flipped = packedFlipped.pointer, rowsOfW = kernelRows.pointer
        let dyRaw = outputGradient.pointer, yOut = out.pointer
        let partialW = weightPartials!.pointer, partialB = biasPartials.baseAddress!
        let relu = activation == .relu
        let imageSize = g.inputHeight * g.inputWidth * c, outSize = oh * ow * f
        let grads = columnGradientScratch, pads = columnScratch, lists = sparseScratch
        Parallel.forWorkers(count: chunks) { worker, range in
            let dy = grads.pointer(worker)
            withUnsafeTemporaryAllocation(of: Double.self, capacity: f) { imageBias in
                let ib = imageBias.baseAddress!
                for chunk in range {
                    let pw = partialW + chunk * depth * f, pb = partialB + chunk * f
                    for e in 0..<(depth * f) { pw[e] = 0 }
                    for j in 0..<f { pb[j] = 0 }
                    // Sparse images add to a transposed partial, added to `pw` at the end.
                    var transposedUsed = false
                    let v = sparse ? lists.view(worker) : nil
                    defer {
                        if transposedUsed, let v { spot_add_transposed(v.transposed, depth, f, pw) }
                    }
                    for image in (chunk * perChunk)..<min(n, (chunk + 1) * perChunk) {
                        let o0 = image * outSize
                        if relu {
                            reluMask(output: yOut + o0, gradient: dyRaw + o0, into: dy, count: outSize)
                        } else {
                            dy.update(from: dyRaw + o0, count: outSize)
                        }
                        columnSums(dy, rows: oh * ow, columns: f, into: ib)
                        for j in 0..<f { pb[j] += ib[j] }
                        let xi = x + image * imageSize
                        if let v, spot_sparse_compress(dy, oh * ow, f, v.rowStart, v.rowIndex, v.rowValue) <= sparseLimit {
                            if !transposedUsed {
                                v.transposed.initialize(repeating: 0, count: depth * f)
                                transposedUsed = true
                            }
                            spot_sparse_columns(v.rowStart, v.rowIndex, v.rowValue, oh, ow, f, g.inputWidth, c,
                                                v.columnStart, v.columnOffset, v.columnValue)
                            spot_conv_s1_sparse_weight_gradient(v.columnStart, v.columnOffset, v.columnValue, xi,
                                                                g.inputWidth, c, kh, kw, f, v.transposed)
                            guard needsInputGradient else { continue }
                            let d = dxp + image * imageSize
                            d.initialize(repeating: 0, count: imageSize)
                            spot_conv_s1_sparse_input_gradient(v.rowStart, v.rowIndex, v.rowValue, oh, ow, rowsOfW,
                                                               kh, kw, c, f, g.inputWidth, d)
                            continue
                        }
                        spot_conv_s1_weight_gradient(xi, g.inputWidth, c, dy, kh, kw, f, oh, ow, pw)
                        guard needsInputGradient else { continue }
                        let pad = pads.pointer(worker)
                        let border = (kh - 1) * padW * f, side = (kw - 1) * f
                        for e in 0..<border { pad[e] = 0; pad[(padH - kh + 1) * padW * f + e] = 0 }
                        for oy in 0..<oh {
                            let row = pad + ((kh - 1 + oy) * padW) * f
                            for e in 0..<side { row[e] = 0; row[(padW - kw + 1) * f + e] = 0 }
                            (row + side).update(from: dy + oy * ow * f, count: ow * f)
                        }
                        spot_conv_s1_forward(pad, padW, f, flipped, nil, kh, kw, c, g.inputHeight, g.inputWidth, 0,
                                             dxp + image * imageSize)
                    }
                }
            }
        }
        sumPartials(chunks: chunks, depth: depth)
        return dx
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

/// The `im2col` lowering used by ``Conv2D`` and its inverse, with naive twins for tests.
public enum Im2Col {
    /// Gathers every window of an NHWC batch into the rows of a matrix.
    ///
    /// `columns[(n·OH + oy)·OW + ox, (ky·KW + kx)·C + c] = input[n, oy·sy+ky−pt, ox·sx+kx−pl, c]`,
    /// or 0 outside the input.
    /// - Parameters:
    ///   - input: `[batch, H, W, channels]`.
    ///   - batch: Images.
    ///   - channels: Channels per pixel.
    ///   - geometry: Window geometry.
    ///   - columns: `[batch·OH·OW, KH·KW·channels]`, overwritten.
    public static func gather(_ input: UnsafePointer<Float>, batch: Int, channels: Int, geometry g: ConvGeometry,
                              into columns: UnsafeMutablePointer<Float>) {
        let rows = batch * g.outputHeight * g.outputWidth
        let depth = g.kernelHeight * g.kernelWidth * channels
        Parallel.forChunks(count: rows, minimumChunk: max(1, 32_768 / depth)) { range in
            gatherRows(input, rows: range, channels: channels, geometry: g, into: columns + range.lowerBound * depth)
        }
    }

    /// ``gather(_:batch:channels:geometry:into:)`` for the window rows `rows` only, on the
    /// calling thread; `columns` points at the first of those rows.
    static func gatherRows(_ input: UnsafePointer<Float>, rows: Range<Int>, channels: Int, geometry g: ConvGeometry,
                           into columns: UnsafeMutablePointer<Float>) {
        let depth = g.kernelHeight * g.kernelWidth * channels
        let rowSpan = g.kernelWidth * channels
        let imageSize = g.inputHeight * g.inputWidth * channels
        guard !rows.isEmpty else { return }
        // (n, oy, ox) of the first row, then advanced row by row (no division per row).
        var ox = rows.lowerBound % g.outputWidth
        var oy = (rows.lowerBound / g.outputWidth) % g.outputHeight
        var n = rows.lowerBound / (g.outputWidth * g.outputHeight)
        for r in rows {
            defer {
                ox += 1
                if ox == g.outputWidth {
                    ox = 0
                    oy += 1
                    if oy == g.outputHeight { oy = 0; n += 1 }
                }
            }
            let dst = columns + (r - rows.lowerBound) * depth
            let image = input + n * imageSize
            let x0 = ox * g.strideX - g.padLeft
            let fullRow = x0 >= 0 && x0 + g.kernelWidth <= g.inputWidth
            for ky in 0..<g.kernelHeight {
                let y = oy * g.strideY + ky - g.padTop
                let d = dst + ky * rowSpan
                if y < 0 || y >= g.inputHeight {
                    for i in 0..<rowSpan { d[i] = 0 }
                    continue
                }
                let src = image + (y * g.inputWidth) * channels
                if fullRow {
                    // The kernel row's pixels are contiguous in NHWC.
                    let s = src + x0 * channels
                    for i in 0..<rowSpan { d[i] = s[i] }
                } else {
                    for kx in 0..<g.kernelWidth {
                        let x = x0 + kx
                        let dk = d + kx * channels
                        if x < 0 || x >= g.inputWidth {
                            for c in 0..<channels { dk[c] = 0 }
                        } else {
                            let s = src + x * channels
                            for c in 0..<channels { dk[c] = s[c] }
                        }
                    }
                }
            }
        }
    }

    /// Overwrites `input` with the sum of every window's column gradient at the pixel it
    /// came from: the adjoint of ``gather(_:batch:channels:geometry:into:)``.
    /// - Parameters:
    ///   - columns: `[batch·OH·OW, KH·KW·channels]`.
    ///   - batch: Images.
    ///   - channels: Channels per pixel.
    ///   - geometry: Window geometry.
    ///   - input: `[batch, H, W, channels]`, overwritten.
    public static func scatter(_ columns: UnsafePointer<Float>, batch: Int, channels: Int, geometry g: ConvGeometry,
                               into input: UnsafeMutablePointer<Float>) {
        let depth = g.kernelHeight * g.kernelWidth * channels
        let windowsPerImage = g.outputHeight * g.outputWidth
        // Parallel over images: each image's pixels receive only its own windows.
        Parallel.forChunks(count: batch) { range in
            scatterImages(columns + range.lowerBound * windowsPerImage * depth, images: range,
                          channels: channels, geometry: g, into: input)
        }
    }

    /// ``scatter(_:batch:channels:geometry:into:)`` for the images `images` only, on the
    /// calling thread; `columns` points at the first window row of those images and `input`
    /// at the whole batch.
    static func scatterImages(_ columns: UnsafePointer<Float>, images: Range<Int>, channels: Int,
                              geometry g: ConvGeometry, into input: UnsafeMutablePointer<Float>) {
        let depth = g.kernelHeight * g.kernelWidth * channels
        let rowSpan = g.kernelWidth * channels
        let imageSize = g.inputHeight * g.inputWidth * channels
        let windowsPerImage = g.outputHeight * g.outputWidth
        for n in images {
            let image = input + n * imageSize
            for i in 0..<imageSize { image[i] = 0 }
            for w in 0..<windowsPerImage {
                let ox = w % g.outputWidth, oy = w / g.outputWidth
                let src = columns + ((n - images.lowerBound) * windowsPerImage + w) * depth
                let x0 = ox * g.strideX - g.padLeft
                let fullRow = x0 >= 0 && x0 + g.kernelWidth <= g.inputWidth
                for ky in 0..<g.kernelHeight {
                    let y = oy * g.strideY + ky - g.padTop
                    if y < 0 || y >= g.inputHeight { continue }
                    let s = src + ky * rowSpan
                    let dstRow = image + (y * g.inputWidth) * channels
                    if fullRow {
                        let d = dstRow + x0 * channels
                        for i in 0..<rowSpan { d[i] += s[i] }
                    } else {
                        for kx in 0..<g.kernelWidth {
                            let x = x0 + kx
                            if x < 0 || x >= g.inputWidth { continue }
                            let d = dstRow + x * channels, sk = s + kx * channels
                            for c in 0..<channels { d[c] += sk[c] }
                        }
                    }
                }
            }
        }
    }

    /// Adds one window's column gradient (`depth` values) to the input pixels it came from:
    /// ``scatterImages(_:images:channels:geometry:into:)`` for the single window row `row`.
    @inline(__always)
    static func scatterWindow(_ column: UnsafePointer<Float>, row r: Int, channels: Int, geometry g: ConvGeometry,
                              into input: UnsafeMutablePointer<Float>) {
        let ox = r % g.outputWidth
        let oy = (r / g.outputWidth) % g.outputHeight
        let n = r / (g.outputWidth * g.outputHeight)
        let image = input + n * g.inputHeight * g.inputWidth * channels
        for ky in 0..<g.kernelHeight {
            let y = oy * g.strideY + ky - g.padTop
            if y < 0 || y >= g.inputHeight { continue }
            for kx in 0..<g.kernelWidth {
                let x = ox * g.strideX + kx - g.padLeft
                if x < 0 || x >= g.inputWidth { continue }
                let d = image + (y * g.inputWidth + x) * channels, s = column + (ky * g.kernelWidth + kx) * channels
                for c in 0..<channels { d[c] += s[c] }
            }
        }
    }

    /// The direct convolution that ``Conv2D``'s `im2col` + `sgemm` must agree with
    /// (accumulating in `Double`, without bias or activation). For tests.
    /// - Parameters:
    ///   - input: `[batch, H, W, C]`.
    ///   - weight: `[KH, KW, C, F]`.
    ///   - geometry: Window geometry.
    /// - Returns: `[batch, OH, OW, F]`.
    public static func convolutionReference(input: Tensor, weight: Tensor, geometry g: ConvGeometry) -> Tensor {
        let n = input.shape[0], c = input.shape[3], f = weight.shape[3]
        let out = Tensor.zeros([n, g.outputHeight, g.outputWidth, f])
        for b in 0..<n {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for o in 0..<f {
                        var sum = 0.0
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                let y = oy * g.strideY + ky - g.padTop
                                let x = ox * g.strideX + kx - g.padLeft
                                if y < 0 || y >= g.inputHeight || x < 0 || x >= g.inputWidth { continue }
                                for ch in 0..<c {
                                    sum += Double(input[b, y, x, ch]) * Double(weight[ky, kx, ch, o])
                                }
                            }
                        }
                        out[b, oy, ox, o] = Float(sum)
                    }
                }
            }
        }
        return out
    }
}
