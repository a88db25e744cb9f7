import CSpotKernels
import Foundation
import SpotTrain
import Testing

/// The portable and the AVX2+FMA versions of each C kernel against a `Double` reference,
/// on sizes that reach every vector block and tail (32, 8 and single columns).
@Suite struct KernelVariantTests {
    typealias Product = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, Int, Int32,
                         UnsafeMutablePointer<Float>) -> Void
    typealias WeightGradient = (UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    typealias Adam = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>,
                      UnsafeMutablePointer<Float>, Int, Float, Float, Float, Float, Float, Float, Float, Float) -> Void

    /// The versions this machine can run, by name.
    static var variants: [(name: String, product: Product, weightGradient: WeightGradient, adam: Adam)] {
        var list: [(String, Product, WeightGradient, Adam)] = [
            ("portable", spot_small_depth_product_portable, spot_small_depth_weight_gradient_portable,
             spot_adam_update_portable),
        ]
        #if arch(x86_64)
        if spot_kernels_use_avx2() == 1 {
            list.append(("avx2", spot_small_depth_product_avx2, spot_small_depth_weight_gradient_avx2,
                         spot_adam_update_avx2))
        }
        #endif
        return list
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        Tensor.uniform([count], lower: -1, upper: 1, rng: RandomGenerator(seed: seed)).scalars
    }

    @Test(arguments: [(depth: 1, cols: 3), (depth: 9, cols: 32), (depth: 9, cols: 41), (depth: 27, cols: 70),
                      (depth: 32, cols: 8), (depth: 5, cols: 64)])
    func smallDepthProductMatchesReference(_ size: (depth: Int, cols: Int)) {
        let rows = 37, (depth, cols) = size
        let a = Self.values(rows * depth, seed: 1), w = Self.values(depth * cols, seed: 2), b = Self.values(cols, seed: 3)
        for relu in [Int32(0), 1] {
            var expected = [Float](repeating: 0, count: rows * cols)
            for p in 0..<rows {
                for j in 0..<cols {
                    var s = Double(b[j])
                    for d in 0..<depth { s += Double(a[p * depth + d]) * Double(w[d * cols + j]) }
                    expected[p * cols + j] = Float(relu == 1 ? max(s, 0) : s)
                }
            }
            for variant in Self.variants {
                var out = [Float](repeating: .nan, count: rows * cols)
                variant.product(a, w, b, rows, depth, cols, relu, &out)
                let worst = zip(out, expected).map { abs($0 - $1) }.max()!
                #expect(worst < 1e-5, "\(variant.name), relu \(relu): largest difference \(worst)")
            }
        }
    }

    @Test(arguments: [(depth: 1, cols: 3), (depth: 9, cols: 32), (depth: 10, cols: 41), (depth: 4, cols: 70),
                      (depth: 3, cols: 8)])
    func smallDepthWeightGradientAccumulates(_ size: (depth: Int, cols: Int)) {
        let rows = 53, (depth, cols) = size
        let a = Self.values(rows * depth, seed: 4), g = Self.values(rows * cols, seed: 5)
        let initial = Self.values(depth * cols, seed: 6)
        var expected = [Float](repeating: 0, count: depth * cols)
        for d in 0..<depth {
            for j in 0..<cols {
                var s = Double(initial[d * cols + j])
                for p in 0..<rows { s += Double(a[p * depth + d]) * Double(g[p * cols + j]) }
                expected[d * cols + j] = Float(s)
            }
        }
        for variant in Self.variants {
            var acc = initial
            variant.weightGradient(a, g, rows, depth, cols, &acc)
            let worst = zip(acc, expected).map { abs($0 - $1) }.max()!
            #expect(worst < 2e-5, "\(variant.name): largest difference \(worst)")
        }
    }

    @Test func adamUpdateMatchesReference() {
        let n = 1_005  // not a multiple of 8: the vector loop and its scalar tail
        let g = Self.values(n, seed: 7), start = Self.values(n, seed: 8)
        let m0 = Self.values(n, seed: 9).map { $0 * 0.1 }, v0 = Self.values(n, seed: 10).map { $0 * $0 * 0.01 }
        let (b1, b2, eps, decay, step, irc2): (Float, Float, Float, Float, Float, Float) = (0.9, 0.999, 1e-7, 0.9999, 0.01, 3.2)
        for variant in Self.variants {
            var value = start, m = m0, v = v0
            variant.adam(&value, g, &m, &v, n, b1, 1 - b1, b2, 1 - b2, eps, decay, step, irc2)
            for i in 0..<n {
                let gi = Double(g[i])
                let mi = Double(b1) * Double(m0[i]) + Double(1 - b1) * gi
                let vi = Double(b2) * Double(v0[i]) + Double(1 - b2) * gi * gi
                let kept = Double(start[i]) * Double(decay)
                let update = Double(step) * mi / (vi.squareRoot() * Double(irc2) + Double(eps))
                // Float rounding, relative to the size of the terms (they can cancel).
                let mScale = abs(Double(b1) * Double(m0[i])) + abs(Double(1 - b1) * gi)
                #expect(abs(Double(m[i]) - mi) <= 1e-6 * mScale, "\(variant.name) m[\(i)]")
                #expect(abs(Double(v[i]) - vi) <= 1e-6 * vi, "\(variant.name) v[\(i)]")
                #expect(abs(Double(value[i]) - (kept - update)) <= 1e-6 * (abs(kept) + abs(update)),
                        "\(variant.name) value[\(i)]")
            }
        }
    }

    typealias ConvForward = (UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>?, Int, Int, Int,
                             Int, Int, Int32, UnsafeMutablePointer<Float>) -> Void
    typealias ConvWeightGradient = (UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, Int, Int, Int, Int,
                                    UnsafeMutablePointer<Float>) -> Void

    static var convVariants: [(name: String, forward: ConvForward, weightGradient: ConvWeightGradient)] {
        var list: [(String, ConvForward, ConvWeightGradient)] = [
            ("portable", spot_conv_s1_forward_portable, spot_conv_s1_weight_gradient_portable),
        ]
        #if arch(x86_64)
        if spot_kernels_use_avx2() == 1 {
            list.append(("avx2", spot_conv_s1_forward_avx2, spot_conv_s1_weight_gradient_avx2))
        }
        #endif
        return list
    }

    /// The stride-1 kernels on one image whose rows are wider than the convolution reads
    /// (`x_width` > `ow + kw − 1`), with output widths that leave every 6-pixel remainder.
    @Test(arguments: [(kh: 3, kw: 3, c: 16, f: 32, ow: 13), (kh: 2, kw: 3, c: 5, f: 16, ow: 6),
                      (kh: 1, kw: 1, c: 3, f: 48, ow: 11), (kh: 3, kw: 2, c: 7, f: 16, ow: 10)])
    func strideOneConvolutionMatchesReference(_ z: (kh: Int, kw: Int, c: Int, f: Int, ow: Int)) {
        let oh = 4, xWidth = z.ow + z.kw + 1, depth = z.kh * z.kw * z.c
        let x = Self.values((oh + z.kh - 1) * xWidth * z.c, seed: 11), w = Self.values(depth * z.f, seed: 12)
        let b = Self.values(z.f, seed: 13), dy = Self.values(oh * z.ow * z.f, seed: 14)
        let dw0 = Self.values(depth * z.f, seed: 15)
        var packed = [Float](repeating: 0, count: depth * z.f)
        spot_pack_panels16(w, depth, z.f, &packed)
        func xAt(_ y: Int, _ xx: Int, _ ch: Int) -> Double { Double(x[(y * xWidth + xx) * z.c + ch]) }
        for relu in [Int32(0), 1] {
            var expected = [Float](repeating: 0, count: oh * z.ow * z.f)
            for oy in 0..<oh { for ox in 0..<z.ow { for j in 0..<z.f {
                var s = Double(b[j])
                for ky in 0..<z.kh { for kx in 0..<z.kw { for ch in 0..<z.c {
                    s += xAt(oy + ky, ox + kx, ch) * Double(w[((ky * z.kw + kx) * z.c + ch) * z.f + j])
                } } }
                expected[(oy * z.ow + ox) * z.f + j] = Float(relu == 1 ? max(s, 0) : s)
            } } }
            for variant in Self.convVariants {
                var out = [Float](repeating: .nan, count: expected.count)
                variant.forward(x, xWidth, z.c, packed, b, z.kh, z.kw, z.f, oh, z.ow, relu, &out)
                let worst = zip(out, expected).map { abs($0 - $1) }.max()!
                #expect(worst < 1e-4, "\(variant.name) forward, relu \(relu): largest difference \(worst)")
            }
        }
        var expectedDW = [Float](repeating: 0, count: depth * z.f)
        for ky in 0..<z.kh { for kx in 0..<z.kw { for ch in 0..<z.c { for j in 0..<z.f {
            var s = Double(dw0[((ky * z.kw + kx) * z.c + ch) * z.f + j])
            for oy in 0..<oh { for ox in 0..<z.ow { s += xAt(oy + ky, ox + kx, ch) * Double(dy[(oy * z.ow + ox) * z.f + j]) } }
            expectedDW[((ky * z.kw + kx) * z.c + ch) * z.f + j] = Float(s)
        } } } }
        for variant in Self.convVariants {
            var dw = dw0
            variant.weightGradient(x, xWidth, z.c, dy, z.kh, z.kw, z.f, oh, z.ow, &dw)
            let worst = zip(dw, expectedDW).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "\(variant.name) weight gradient: largest difference \(worst)")
        }
    }

    @Test func flippedPanelsHoldTheTransposedFlippedKernel() {
        let (kh, kw, c, f) = (3, 2, 16, 5)
        let w = Self.values(kh * kw * c * f, seed: 16)
        var packed = [Float](repeating: .nan, count: w.count)
        spot_pack_flipped_panels16(w, kh, kw, c, f, &packed)
        let depth = kh * kw * f
        for ky in 0..<kh { for kx in 0..<kw { for j in 0..<f { for ch in 0..<c {
            let k = (ky * kw + kx) * f + j
            let got = packed[((ch / 16) * depth + k) * 16 + ch % 16]
            #expect(got == w[(((kh - 1 - ky) * kw + (kw - 1 - kx)) * c + ch) * f + j])
        } } } }
    }

    @Test func avx2IsUsedWhereTheCPUHasIt() throws {
        #if arch(x86_64)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let hasBoth = flags.contains(" avx2") && flags.contains(" fma")
        try #require(!flags.isEmpty, "no /proc/cpuinfo")
        #expect((spot_kernels_use_avx2() == 1) == hasBoth)
        #else
        #expect(spot_kernels_use_avx2() == 0)
        #endif
    }
}
