// `Algorithm.im2col`: the batch lowered in chunks of whole images into window matrices
// (`Im2Col`) and multiplied with `sgemm`; the fallback for every geometry.
extension Conv2D {
    /// Images per `im2col` chunk for this geometry (see ``columnChunkBytes``).
    fileprivate func imagesPerChunk(_ g: ConvGeometry, batch: Int) -> Int {
        let bytesPerImage = g.outputHeight * g.outputWidth * g.kernelHeight * g.kernelWidth * inputChannels * 4
        return max(1, min(batch, Conv2D.columnChunkBytes / max(bytesPerImage, 1)))
    }

    // im2col forward: out is (N, OH, OW, F); each worker builds im2col blocks
    // (rows·OH·OW, KH·KW·C) in turn.
    func forwardIm2col(_ input: Tensor, geometry g: ConvGeometry) -> Tensor {
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
        return out
    }

    // im2col backward: dinput is (N, H, W, C); accumulates dW (KH·KW·C, F) and db (F). Per
    // chunk: the pre-activation gradient, the im2col block again (cheaper than keeping it), a
    // partial dW and db, and the chunk's input gradient; then the partials are summed in
    // chunk order.
    func backwardIm2col(_ outputGradient: Tensor, input: Tensor, output out: Tensor,
                        geometry g: ConvGeometry) -> Tensor {
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
}
