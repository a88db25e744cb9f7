import CSpotKernels

// The sparse backward pass of `Algorithm.implicitGEMM` (see `sparseGradientDensity`): after
// max pooling, ReLU and dropout most entries of an image's output gradient are zero, and
// these kernels visit only the others. Called from `backwardImplicit`
// (Conv2D+ImplicitGEMM.swift), which runs the dense kernels for the images it declines.
extension Conv2D {
    /// Prepares the sparse pass for a backward pass of `workers` work items: the per-worker
    /// lists and, when the input gradient is computed, the kernel rows. The nonzero entries
    /// are listed per image, with `Int32` counts and input offsets.
    /// - Returns: The most nonzero entries an image may have to take the sparse pass, or
    ///   `nil` when the pass does not apply (``sparseGradientDensity`` is 0, ``inputChannels``
    ///   is not a multiple of 8, or an image is too large for `Int32` offsets).
    func prepareSparseBackward(geometry g: ConvGeometry, workers: Int, needsInputGradient: Bool) -> Int? {
        let f = outputChannels, c = inputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth, oh = g.outputHeight, ow = g.outputWidth
        let depth = kh * kw * c
        let sparseLimit = Int(Double(sparseGradientDensity) * Double(oh * ow * f))
        let sparse = sparseGradientDensity > 0 && c % 8 == 0
            && max(g.inputHeight * g.inputWidth * c, oh * ow * f) < Int(Int32.max)
        guard sparse else { return nil }
        sparseScratch.prepare(workers: workers, pixels: oh * ow, channels: f, depth: depth)
        if needsInputGradient {
            if kernelRows.count < depth * f { kernelRows = TensorStorage(uninitializedCount: depth * f) }
            spot_transpose_kernel_rows(weight.value.pointer, kh, kw, c, f, kernelRows.pointer)
        }
        return sparseLimit
    }

    /// One image of the sparse pass, on the calling thread: lists the nonzero entries of `dy`
    /// and, when there are at most `limit`, adds the image's weight gradient to the worker's
    /// transposed partial (zeroed on first use, which sets `transposedUsed`) and overwrites
    /// `inputGradient` (when given) with the image's input gradient.
    /// - Parameters:
    ///   - v: The worker's lists (``SparseGradientScratch/view(_:)``).
    ///   - dy: The image's gradient through the activation, `[OH·OW, filters]`.
    ///   - xi: The image, `[H, W, channels]`.
    ///   - kernelRows: The weight as `spot_transpose_kernel_rows` lays it out.
    /// - Returns: Whether the image took the sparse pass; if not, the caller runs the dense one.
    static func sparseImageBackward(_ v: SparseGradientScratch.View, outputGradient dy: UnsafePointer<Float>,
                                    input xi: UnsafePointer<Float>, geometry g: ConvGeometry, channels c: Int,
                                    filters f: Int, kernelRows rowsOfW: UnsafePointer<Float>, limit: Int,
                                    transposedUsed: inout Bool,
                                    inputGradient d: UnsafeMutablePointer<Float>?) -> Bool {
        let kh = g.kernelHeight, kw = g.kernelWidth, oh = g.outputHeight, ow = g.outputWidth
        let depth = kh * kw * c
        guard spot_sparse_compress(dy, oh * ow, f, v.rowStart, v.rowIndex, v.rowValue) <= limit else { return false }
        if !transposedUsed {
            v.transposed.initialize(repeating: 0, count: depth * f)
            transposedUsed = true
        }
        spot_sparse_columns(v.rowStart, v.rowIndex, v.rowValue, oh, ow, f, g.inputWidth, c,
                            v.columnStart, v.columnOffset, v.columnValue)
        spot_conv_s1_sparse_weight_gradient(v.columnStart, v.columnOffset, v.columnValue, xi,
                                            g.inputWidth, c, kh, kw, f, v.transposed)
        guard let d else { return true }
        d.initialize(repeating: 0, count: g.inputHeight * g.inputWidth * c)
        spot_conv_s1_sparse_input_gradient(v.rowStart, v.rowIndex, v.rowValue, oh, ow, rowsOfW,
                                           kh, kw, c, f, g.inputWidth, d)
        return true
    }
}
