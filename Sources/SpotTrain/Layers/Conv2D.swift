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

/// A 2-D convolution over NHWC images, lowered to one matrix product over the whole batch.
///
/// `out[n, oy, ox, f] = activation(b[f] + Σ_{ky,kx,c} in[n, oy·s+ky−pt, ox·s+kx−pl, c] · W[ky, kx, c, f])`
///
/// Shapes: input `[batch, height, width, inputChannels]`, weight `[kernelHeight,
/// kernelWidth, inputChannels, outputChannels]`, bias `[outputChannels]`, output `[batch,
/// outputHeight, outputWidth, outputChannels]`.
///
/// The forward pass gathers every window into a row of an `im2col` matrix
/// `[batch·outputHeight·outputWidth, kernelHeight·kernelWidth·inputChannels]` and multiplies it
/// by the weight viewed as `[kernelHeight·kernelWidth·inputChannels, outputChannels]`; in NHWC the
/// product is already the output. The backward pass reuses that matrix for the weight
/// gradient and scatters (`col2im`) the input gradient.
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

    private var lastInput: Tensor?
    private var geometry: ConvGeometry?
    private var columns: Tensor?
    private var output: Tensor?
    private var columnGradient: Tensor?
    private var inputGradient: Tensor?
    private var preActivationGradient: Tensor?

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

    // out is (N, OH, OW, F); columns is (N·OH·OW, KH·KW·C)
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let g = geometry(for: input.shape)
        let n = input.shape[0]
        let rows = n * g.outputHeight * g.outputWidth
        let depth = g.kernelHeight * g.kernelWidth * inputChannels
        let out = reuse(&output, shape: [n, g.outputHeight, g.outputWidth, outputChannels])
        let cols = reuse(&columns, shape: [rows, depth])
        Im2Col.gather(input.pointer, batch: n, channels: inputChannels, geometry: g, into: cols.pointer)
        BLAS.sgemm(m: rows, n: outputChannels, k: depth,
                   a: cols.pointer, b: weight.value.pointer, beta: 0, c: out.pointer)
        addBiasActivate(out.pointer, rows: rows, columns: outputChannels,
                        bias: bias.value.pointer, activation: activation)
        lastInput = input
        geometry = g
        return out
    }

    // dinput is (N, H, W, C); accumulates dW (KH·KW·C, F) and db (F).
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let input = lastInput, let g = geometry, let out = output, let cols = columns else {
            preconditionFailure("Conv2D \(name): backward called before forward")
        }
        precondition(outputGradient.shape == out.shape,
                     "Conv2D \(name): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        let n = input.shape[0]
        let rows = n * g.outputHeight * g.outputWidth
        let depth = g.kernelHeight * g.kernelWidth * inputChannels
        let dy = activationBackward(activation, output: out, gradient: outputGradient, scratch: &preActivationGradient)
        // dW += colsᵀ · dy
        BLAS.sgemm(transposeA: true, m: depth, n: outputChannels, k: rows,
                   a: cols.pointer, b: dy.pointer, beta: 1, c: weight.gradient.pointer)
        accumulateColumnSums(dy.pointer, rows: rows, columns: outputChannels, into: bias.gradient.pointer)
        let dx = reuse(&inputGradient, shape: input.shape)
        if computesInputGradient {
            // dcols = dy · Wᵀ, then scatter-add into dx.
            let dcols = reuse(&columnGradient, shape: [rows, depth])
            BLAS.sgemm(transposeB: true, m: rows, n: depth, k: outputChannels,
                       a: dy.pointer, b: weight.value.pointer, beta: 0, c: dcols.pointer)
            Im2Col.scatter(dcols.pointer, batch: n, channels: inputChannels, geometry: g, into: dx.pointer)
        }
        return dx
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
        let rowSpan = g.kernelWidth * channels
        let imageSize = g.inputHeight * g.inputWidth * channels
        Parallel.forChunks(count: rows, minimumChunk: max(1, 32_768 / depth)) { range in
            for r in range {
                let ox = r % g.outputWidth
                let oy = (r / g.outputWidth) % g.outputHeight
                let n = r / (g.outputWidth * g.outputHeight)
                let dst = columns + r * depth
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
        let rowSpan = g.kernelWidth * channels
        let imageSize = g.inputHeight * g.inputWidth * channels
        let windowsPerImage = g.outputHeight * g.outputWidth
        // Parallel over images: each image's pixels receive only its own windows.
        Parallel.forChunks(count: batch) { range in
            for n in range {
                let image = input + n * imageSize
                for i in 0..<imageSize { image[i] = 0 }
                for w in 0..<windowsPerImage {
                    let ox = w % g.outputWidth, oy = w / g.outputWidth
                    let src = columns + (n * windowsPerImage + w) * depth
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
