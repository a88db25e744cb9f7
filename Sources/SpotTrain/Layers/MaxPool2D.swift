/// 2-D max pooling over NHWC images.
///
/// Shapes: input `[batch, height, width, channels]`, output `[batch, outputHeight,
/// outputWidth, channels]`. Windows that hang over a `.same` border ignore the missing
/// pixels. On ties the first maximum (in row-major window order) receives the gradient.
public final class MaxPool2D: Layer {
    /// The layer name (pooling has no parameters).
    public var name: String
    /// `(height, width)` of the window.
    public let poolSize: (Int, Int)
    /// `(y, x)` step; defaults to the pool size.
    public let stride: (Int, Int)
    /// Border treatment.
    public let padding: Padding
    public var computesInputGradient = true
    public var parameters: [Parameter] { [] }

    private var inputShape: [Int] = []
    private var output: Tensor?
    private var argmax: UnsafeMutableBufferPointer<Int32> = .init(start: nil, count: 0)
    private var inputGradient: Tensor?

    /// Creates a pooling layer.
    /// - Parameters:
    ///   - poolSize: `(height, width)` of the window.
    ///   - stride: `(y, x)` step; `nil` means the pool size.
    ///   - padding: `.valid` (default) or `.same`.
    ///   - name: Layer name.
    public init(poolSize: (Int, Int) = (2, 2), stride: (Int, Int)? = nil, padding: Padding = .valid, name: String = "") {
        precondition(poolSize.0 > 0 && poolSize.1 > 0, "MaxPool2D: pool size \(poolSize) must be positive")
        let s = stride ?? poolSize
        precondition(s.0 > 0 && s.1 > 0, "MaxPool2D: stride \(s) must be positive")
        self.poolSize = poolSize
        self.stride = s
        self.padding = padding
        self.name = name
    }

    /// Creates a pooling layer with a square window.
    public convenience init(poolSize: Int, stride: Int? = nil, padding: Padding = .valid, name: String = "") {
        self.init(poolSize: (poolSize, poolSize), stride: stride.map { ($0, $0) }, padding: padding, name: name)
    }

    deinit { argmax.deallocate() }

    private func geometry(for shape: [Int]) -> ConvGeometry {
        precondition(shape.count == 4, "MaxPool2D \(name): input shape \(shape) is not [batch, height, width, channels]")
        let g = ConvGeometry(inputHeight: shape[1], inputWidth: shape[2], kernel: poolSize, stride: stride, padding: padding)
        precondition(g.outputHeight > 0 && g.outputWidth > 0,
                     "MaxPool2D \(name): input shape \(shape) is smaller than pool \(poolSize)")
        return g
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        let g = geometry(for: inputShape)
        return [inputShape[0], g.outputHeight, g.outputWidth, inputShape[3]]
    }

    // out is (N, OH, OW, C); argmax holds the flat input index of each output's maximum.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let g = geometry(for: input.shape)
        let c = input.shape[3]
        let out = reuse(&output, shape: [input.shape[0], g.outputHeight, g.outputWidth, c])
        if argmax.count != out.count {
            argmax.deallocate()
            argmax = .allocate(capacity: out.count)
        }
        precondition(input.count <= Int(Int32.max), "MaxPool2D \(name): input shape \(input.shape) too large")
        let src = input.pointer, dst = out.pointer, arg = argmax.baseAddress!
        let pixels = input.shape[0] * g.outputHeight * g.outputWidth
        let windowSize = g.kernelHeight * g.kernelWidth
        Parallel.forChunks(count: pixels, minimumChunk: 256) { range in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: windowSize) { bases in
                for p in range {
                    let ox = p % g.outputWidth
                    let oy = (p / g.outputWidth) % g.outputHeight
                    let n = p / (g.outputWidth * g.outputHeight)
                    // The flat offsets of the window's in-bounds pixels, in row-major order.
                    var count = 0
                    for ky in 0..<g.kernelHeight {
                        let y = oy * g.strideY + ky - g.padTop
                        if y < 0 || y >= g.inputHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let x = ox * g.strideX + kx - g.padLeft
                            if x < 0 || x >= g.inputWidth { continue }
                            bases[count] = ((n * g.inputHeight + y) * g.inputWidth + x) * c
                            count += 1
                        }
                    }
                    MaxPool2D.reduceWindow(src, bases: bases.baseAddress!, count: count, channels: c,
                                           into: dst + p * c, argmax: arg + p * c)
                }
            }
        }
        inputShape = input.shape
        return out
    }

    /// The channel-wise maximum over `count` pixels (at `src + bases[i]`) and the flat index
    /// of the first maximum, four channels at a time with SIMD selects.
    @inline(__always)
    static func reduceWindow(_ src: UnsafePointer<Float>, bases: UnsafePointer<Int>, count: Int, channels c: Int,
                             into out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
        let lanes = SIMD4<Int32>(0, 1, 2, 3)
        var ch = 0
        while ch + 4 <= c {
            var best = UnsafeRawPointer(src + bases[0] + ch).loadUnaligned(as: SIMD4<Float>.self)
            var index = SIMD4<Int32>(repeating: Int32(truncatingIfNeeded: bases[0] + ch)) &+ lanes
            for i in 1..<max(count, 1) {
                let v = UnsafeRawPointer(src + bases[i] + ch).loadUnaligned(as: SIMD4<Float>.self)
                let better = v .> best
                best.replace(with: v, where: better)
                index.replace(with: SIMD4<Int32>(repeating: Int32(truncatingIfNeeded: bases[i] + ch)) &+ lanes, where: better)
            }
            UnsafeMutableRawPointer(out + ch).storeBytes(of: best, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(argmax + ch).storeBytes(of: index, as: SIMD4<Int32>.self)
            ch += 4
        }
        while ch < c {
            var best = src[bases[0] + ch], index = bases[0] + ch
            for i in 1..<max(count, 1) where src[bases[i] + ch] > best {
                best = src[bases[i] + ch]
                index = bases[i] + ch
            }
            out[ch] = best
            argmax[ch] = Int32(truncatingIfNeeded: index)
            ch += 1
        }
    }

    // dinput is (N, H, W, C): each output's gradient goes to the input that was its maximum.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let out = output else { preconditionFailure("MaxPool2D \(name): backward called before forward") }
        precondition(outputGradient.shape == out.shape,
                     "MaxPool2D \(name): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        let dx = reuse(&inputGradient, shape: inputShape)
        guard computesInputGradient else { return dx }
        let n = inputShape[0]
        let perImageOut = out.count / max(n, 1), perImageIn = dx.count / max(n, 1)
        let g = outputGradient.pointer, d = dx.pointer, arg = argmax.baseAddress!
        if stride == poolSize && padding == .valid {
            backwardTiled(g, into: d, argmax: arg, batch: n)
            return dx
        }
        // Parallel over images: an image's outputs only reach that image's inputs.
        Parallel.forChunks(count: n) { range in
            for i in 0..<(range.count * perImageIn) { d[range.lowerBound * perImageIn + i] = 0 }
            for j in (range.lowerBound * perImageOut)..<(range.upperBound * perImageOut) {
                d[Int(arg[j])] += g[j]
            }
        }
        return dx
    }

    /// The backward pass when the windows tile the input (stride = pool size, `valid`): every
    /// input pixel lies in at most one window, so each is written once, with the window's
    /// gradient where it was the maximum and 0 elsewhere (no zeroing pass, no scattered adds).
    private func backwardTiled(_ g: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>,
                               argmax arg: UnsafePointer<Int32>, batch n: Int) {
        let geo = geometry(for: inputShape)
        let h = inputShape[1], w = inputShape[2], c = inputShape[3]
        let ph = poolSize.0, pw = poolSize.1, oh = geo.outputHeight, ow = geo.outputWidth
        Parallel.forChunks(count: n * h) { rows in
            for row in rows {
                let image = row / h, y = row % h, oy = y / ph
                let dst = d + row * w * c
                guard oy < oh else {
                    for e in 0..<(w * c) { dst[e] = 0 }
                    continue
                }
                for ox in 0..<ow {
                    let p = (image * oh + oy) * ow + ox
                    let gp = g + p * c, ap = arg + p * c
                    for kx in 0..<pw {
                        let x = ox * pw + kx
                        let flat = Int32(truncatingIfNeeded: (row * w + x) * c)
                        let o = dst + x * c
                        for ch in 0..<c {
                            let v = gp[ch], hit = ap[ch] == flat &+ Int32(truncatingIfNeeded: ch)
                            o[ch] = hit ? v : 0
                        }
                    }
                }
                for e in (ow * pw * c)..<(w * c) { dst[e] = 0 }
            }
        }
    }
}
