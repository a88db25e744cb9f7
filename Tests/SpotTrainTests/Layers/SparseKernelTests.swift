import CSpotKernels
import SpotTrain
import Testing

/// The sparse backward kernels of the stride-1 convolution (portable and AVX2+FMA) against
/// naive `Double` loops, and the layer's sparse pass against its dense one.
@Suite struct SparseKernelTests {
    typealias Compress = (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>,
                          UnsafeMutablePointer<Float>) -> Int
    typealias InputGradient = (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>, Int, Int,
                               UnsafePointer<Float>, Int, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    typealias WeightGradient = (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>, UnsafePointer<Float>,
                                Int, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void

    static var variants: [(name: String, compress: Compress, input: InputGradient, weight: WeightGradient)] {
        var list: [(String, Compress, InputGradient, WeightGradient)] = [
            ("portable", spot_sparse_compress_portable, spot_conv_s1_sparse_input_gradient_portable,
             spot_conv_s1_sparse_weight_gradient_portable),
        ]
        #if arch(x86_64)
        if spot_kernels_use_avx2() == 1 {
            list.append(("avx2", spot_sparse_compress_avx2, spot_conv_s1_sparse_input_gradient_avx2,
                         spot_conv_s1_sparse_weight_gradient_avx2))
        }
        #endif
        return list
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        Tensor.uniform([count], lower: -1, upper: 1, rng: RandomGenerator(seed: seed)).scalars
    }

    /// About 70 % of the entries zero, the rest in [-1, 1].
    static func sparseValues(_ count: Int, seed: UInt64) -> [Float] {
        let v = values(count, seed: seed), keep = values(count, seed: seed + 100)
        return zip(v, keep).map { $1 > 0.4 ? $0 : 0 }
    }

    /// Kernel rows of 96 floats and more (12-vector blocks), 32, 8 and single floats.
    @Test(arguments: [(kh: 3, kw: 3, c: 32, f: 64, ow: 7), (kh: 3, kw: 3, c: 40, f: 16, ow: 5),
                      (kh: 2, kw: 3, c: 12, f: 20, ow: 6), (kh: 3, kw: 2, c: 1, f: 9, ow: 4),
                      (kh: 1, kw: 1, c: 8, f: 16, ow: 9)])
    func sparseKernelsMatchReference(_ z: (kh: Int, kw: Int, c: Int, f: Int, ow: Int)) {
        let oh = 5, pixels = oh * z.ow, xWidth = z.ow + z.kw + 2, depth = z.kh * z.kw * z.c
        let xRows = oh + z.kh - 1
        let dy = Self.sparseValues(pixels * z.f, seed: 21)
        let x = Self.values(xRows * xWidth * z.c, seed: 22), w = Self.values(depth * z.f, seed: 23)
        let dx0 = Self.values(x.count, seed: 24), dwt0 = Self.values(depth * z.f, seed: 25)
        // The nonzero entries, by pixel and by channel, enumerated naively.
        let byPixel = (0..<pixels).flatMap { p in (0..<z.f).compactMap { j in dy[p * z.f + j] != 0 ? (p, j) : nil } }
        let byChannel = (0..<z.f).flatMap { j in (0..<pixels).compactMap { p in dy[p * z.f + j] != 0 ? (p, j) : nil } }
        #expect(byPixel.count > pixels * z.f / 5 && byPixel.count < pixels * z.f / 2)
        // Rearranged kernel rows and the transposed add.
        var wt = [Float](repeating: .nan, count: w.count)
        spot_transpose_kernel_rows(w, z.kh, z.kw, z.c, z.f, &wt)
        let seg = z.kw * z.c
        for ky in 0..<z.kh { for j in 0..<z.f { for s in 0..<seg {
            #expect(wt[(ky * z.f + j) * seg + s] == w[(ky * seg + s) * z.f + j])
        } } }
        var added = w
        spot_add_transposed(dwt0, depth, z.f, &added)
        #expect((0..<depth).allSatisfy { d in (0..<z.f).allSatisfy { j in
            added[d * z.f + j] == w[d * z.f + j] + dwt0[j * depth + d] } })

        var expectedDX = dx0.map(Double.init), expectedDWT = dwt0.map(Double.init)
        for (p, j) in byPixel {
            let oy = p / z.ow, ox = p % z.ow, g = Double(dy[p * z.f + j])
            for ky in 0..<z.kh { for kx in 0..<z.kw { for ch in 0..<z.c {
                let xi = ((oy + ky) * xWidth + ox + kx) * z.c + ch, wi = ((ky * z.kw + kx) * z.c + ch) * z.f + j
                expectedDX[xi] += g * Double(w[wi])
                expectedDWT[j * depth + (ky * z.kw + kx) * z.c + ch] += g * Double(x[xi])
            } } }
        }
        for variant in Self.variants {
            var start = [Int32](repeating: -1, count: pixels + 1), index = [Int32](repeating: -1, count: dy.count)
            var value = [Float](repeating: .nan, count: dy.count)
            let count = variant.compress(dy, pixels, z.f, &start, &index, &value)
            #expect(count == byPixel.count, "\(variant.name) count")
            #expect((0..<pixels).allSatisfy { p in
                byPixel[Int(start[p])..<Int(start[p + 1])].allSatisfy { $0.0 == p } }, "\(variant.name) starts")
            #expect(zip(byPixel, 0...).allSatisfy { entry, e in
                index[e] == Int32(entry.1) && value[e] == dy[entry.0 * z.f + entry.1] }, "\(variant.name) entries")

            var columnStart = [Int32](repeating: -1, count: z.f + 1)
            var offset = [Int32](repeating: -1, count: dy.count), columnValue = [Float](repeating: .nan, count: dy.count)
            spot_sparse_columns(start, index, value, oh, z.ow, z.f, xWidth, z.c, &columnStart, &offset, &columnValue)
            #expect(columnStart.first == 0 && columnStart.last == Int32(count))
            #expect((0..<z.f).allSatisfy { j in
                byChannel[Int(columnStart[j])..<Int(columnStart[j + 1])].allSatisfy { $0.1 == j } })
            #expect(zip(byChannel, 0...).allSatisfy { entry, e in
                let (p, j) = entry
                return offset[e] == Int32(((p / z.ow) * xWidth + p % z.ow) * z.c) && columnValue[e] == dy[p * z.f + j]
            }, "columns from \(variant.name)")

            var dx = dx0
            variant.input(start, index, value, oh, z.ow, wt, z.kh, z.kw, z.c, z.f, xWidth, &dx)
            let worstDX = zip(dx, expectedDX).map { abs(Double($0) - $1) }.max()!
            #expect(worstDX < 1e-4, "\(variant.name) input gradient: largest difference \(worstDX)")
            var dwt = dwt0
            variant.weight(columnStart, offset, columnValue, x, xWidth, z.c, z.kh, z.kw, z.f, &dwt)
            let worstDW = zip(dwt, expectedDWT).map { abs(Double($0) - $1) }.max()!
            #expect(worstDW < 1e-4, "\(variant.name) weight gradient: largest difference \(worstDW)")
        }
    }

    /// NaN is listed (it must reach the weights, not vanish); zeros of either sign are not.
    @Test func compressionKeepsNaNAndSkipsSignedZeros() {
        let f = 11
        var dy = [Float](repeating: 0, count: 2 * f)
        dy[3] = .nan; dy[5] = -0.0; dy[9] = 2; dy[f + 8] = -1; dy[f + 10] = .infinity
        for variant in Self.variants {
            var start = [Int32](repeating: -1, count: 3), index = [Int32](repeating: -1, count: dy.count)
            var value = [Float](repeating: 0, count: dy.count)
            #expect(variant.compress(dy, 2, f, &start, &index, &value) == 4, "\(variant.name)")
            #expect(start == [0, 2, 4] && Array(index[0..<4]) == [3, 9, 8, 10], "\(variant.name)")
            #expect(value[0].isNaN && Array(value[1..<4]) == [2, -1, .infinity], "\(variant.name)")
        }
    }

    /// A convolution layer's sparse backward pass gives the dense pass's gradients: every
    /// image sparse, and images alternating between the two paths inside one work item.
    @Test(arguments: [true, false])
    func sparseBackwardAgreesWithDense(inputGradient: Bool) {
        func layer(_ algorithm: Conv2D.Algorithm, density: Float) -> Conv2D {
            let layer = Conv2D(inputChannels: 16, outputChannels: 32, kernelSize: 3, activation: .relu,
                               rng: RandomGenerator(seed: 50))
            layer.bias.value.assign(from: Tensor.uniform([32], lower: -0.2, upper: 0.2, rng: RandomGenerator(seed: 51)))
            layer.algorithm = algorithm
            layer.computesInputGradient = inputGradient
            layer.sparseGradientDensity = density
            return layer
        }
        let reference = layer(.im2col, density: 0), dense = layer(.implicitGEMM, density: 0)
        let sparse = layer(.implicitGEMM, density: 1), mixed = layer(.implicitGEMM, density: 0.3)
        let x = Tensor.uniform([6, 10, 12, 16], lower: -1, upper: 1, rng: RandomGenerator(seed: 52))
        let dy = Tensor.uniform([6, 8, 10, 32], lower: -1, upper: 1, rng: RandomGenerator(seed: 53))
        let keep = Tensor.uniform(dy.shape, rng: RandomGenerator(seed: 54))
        let perImage = 8 * 10 * 32
        for i in 0..<dy.count where (i / perImage) % 2 == 1 && keep.pointer[i] > 0.25 { dy.pointer[i] = 0 }
        var results: [[Float]] = []
        for candidate in [reference, dense, sparse, mixed] {
            _ = candidate.forward(x, training: true)
            let dx = candidate.backward(dy)
            results.append(candidate.weight.gradient.scalars + candidate.bias.gradient.scalars
                           + (inputGradient ? dx.scalars : []))
        }
        for (k, name) in [(1, "dense"), (2, "sparse"), (3, "mixed")] {
            let worst = zip(results[0], results[k]).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "\(name): largest difference \(worst)")
        }
        // Both paths ran: they add in different orders. (After ReLU about half of the even
        // images' entries and an eighth of the odd ones are nonzero.)
        #expect(results[1] != results[2] && results[1] != results[3] && results[2] != results[3])
    }
}
