import CSpotKernels

// `Algorithm.direct`: per image, the windows gathered into a small matrix in cache and
// multiplied by the weight with `spot_small_depth_product` (small_depth.c); for shallow
// windows such as a network's first layer.
extension Conv2D {
    /// Images per work item of the direct algorithm's backward pass.
    private static let directImagesPerChunk = 4

    // Direct forward, per image: gather the image's windows (a small `[OH·OW, depth]`
    // matrix, in cache) and multiply it by the weight with `spot_small_depth_product`, which
    // keeps 32 output channels of a pixel in registers and fuses bias and activation.
    func forwardDirect(_ input: Tensor, geometry g: ConvGeometry) -> Tensor {
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
        return out
    }

    // Direct backward, per image: the gradient through the activation and the image's
    // windows (both small, in cache); `spot_small_depth_weight_gradient` adds windowsᵀ·dy to
    // the work item's weight partial with three weight rows of 32 channels in registers. The
    // bias partial sums dy; the input gradient (when needed) gets `W[d, :]·dy` at each window
    // position. Work items of `directImagesPerChunk` images; partials reduced in order.
    func backwardDirect(_ outputGradient: Tensor, input: Tensor, output out: Tensor,
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
                        imageGradient(dyRaw + r0 * f, output: yOut + r0 * f, relu: relu, pixels: windows, channels: f,
                                      into: dy, biasPartial: pb, sums: ib)
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
