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
