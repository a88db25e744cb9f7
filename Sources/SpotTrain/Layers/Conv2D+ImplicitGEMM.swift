import CSpotKernels

// `Algorithm.implicitGEMM`: stride-1 `valid` convolutions as a matrix product read straight
// from the image (conv_s1.c). The forward pass of a 3×3 kernel goes to Winograd
// (Conv2D+Winograd.swift); the backward pass takes the sparse kernels for images whose
// output gradient is mostly zero (Conv2D+Sparse.swift) and the dense ones otherwise.
extension Conv2D {
    /// Images per work item of the implicit algorithm's backward pass.
    private static let implicitImagesPerChunk = 4

    // Implicit forward, one image per work item (see `spot_conv_s1_forward`).
    func forwardImplicit(_ input: Tensor, geometry g: ConvGeometry) -> Tensor {
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
        return out
    }

    // Implicit backward, work items of `implicitImagesPerChunk` images. Per image: the
    // gradient through the activation, its column sums (bias), the weight gradient added
    // to the work item's partial, and (if needed) the input gradient: the output gradient
    // with a zero border of kernel−1 pixels, convolved with the flipped kernel.
    func backwardImplicit(_ outputGradient: Tensor, input: Tensor, output out: Tensor,
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
        // The sparse pass (Conv2D+Sparse.swift), where it applies.
        let sparseLimit = prepareSparseBackward(geometry: g, workers: workers, needsInputGradient: needsInputGradient)
        let sparse = sparseLimit != nil, limit = sparseLimit ?? 0
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
                        imageGradient(dyRaw + o0, output: yOut + o0, relu: relu, pixels: oh * ow, channels: f,
                                      into: dy, biasPartial: pb, sums: ib)
                        let xi = x + image * imageSize
                        if let v, Conv2D.sparseImageBackward(
                            v, outputGradient: dy, input: xi, geometry: g, channels: c, filters: f,
                            kernelRows: rowsOfW, limit: limit, transposedUsed: &transposedUsed,
                            inputGradient: needsInputGradient ? dxp + image * imageSize : nil) {
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
