import CSpotKernels

// The forward pass of a 3×3 `Algorithm.implicitGEMM` convolution with Winograd's
// F(2×2, 3×3) minimal filtering (see `winogradForward` and winograd.c).
extension Conv2D {
    // Winograd F(2×2, 3×3) forward, one image per work item (see `spot_winograd_forward`).
    func forwardWinograd(_ input: Tensor, output out: Tensor, geometry g: ConvGeometry) -> Tensor {
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
        return out
    }
}
