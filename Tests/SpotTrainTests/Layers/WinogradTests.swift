import CSpotKernels
import SpotTrain
import Testing

/// Winograd F(2×2, 3×3) (portable and AVX2+FMA) against a `Double` direct convolution, and
/// the layer with and without it.
@Suite struct WinogradTests {
    typealias Forward = (UnsafePointer<Float>, Int, UnsafePointer<Float>, UnsafePointer<Float>?, Int, Int, Int, Int32,
                         UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void

    static func variants(channels: Int) -> [(name: String, forward: Forward)] {
        var list: [(String, Forward)] = [("portable", spot_winograd_forward_portable)]
        #if arch(x86_64)
        if spot_kernels_use_avx2() == 1 && channels % 8 == 0 { list.append(("avx2", spot_winograd_forward_avx2)) }
        #endif
        return list
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        Tensor.uniform([count], lower: -1, upper: 1, rng: RandomGenerator(seed: seed)).scalars
    }

    /// Even and odd output sizes (partial tiles at the bottom and right), tile rows longer
    /// and shorter than the 6-tile register block, several channel counts.
    @Test(arguments: [(c: 8, f: 16, oh: 6, ow: 6), (c: 32, f: 64, oh: 24, ow: 24), (c: 16, f: 32, oh: 5, ow: 7),
                      (c: 24, f: 48, oh: 3, ow: 15), (c: 3, f: 16, oh: 4, ow: 5), (c: 8, f: 16, oh: 1, ow: 1)])
    func winogradMatchesDirectConvolution(_ z: (c: Int, f: Int, oh: Int, ow: Int)) {
        let (c, f, oh, ow) = z
        let x = Self.values((oh + 2) * (ow + 2) * c, seed: 61), w = Self.values(9 * c * f, seed: 62)
        let b = Self.values(f, seed: 63)
        var u = [Float](repeating: .nan, count: 16 * c * f)
        spot_winograd_pack_weights(w, c, f, &u)
        for relu in [Int32(0), 1] {
            var expected = [Double](repeating: 0, count: oh * ow * f)
            var scale = 1.0
            for oy in 0..<oh { for ox in 0..<ow { for j in 0..<f {
                var sum = Double(b[j]), magnitude = abs(Double(b[j]))
                for ky in 0..<3 { for kx in 0..<3 { for ch in 0..<c {
                    let term = Double(x[((oy + ky) * (ow + 2) + ox + kx) * c + ch]) * Double(w[((ky * 3 + kx) * c + ch) * f + j])
                    sum += term
                    magnitude += abs(term)
                } } }
                expected[(oy * ow + ox) * f + j] = relu == 1 ? max(sum, 0) : sum
                scale = max(scale, magnitude)
            } } }
            for variant in Self.variants(channels: c) {
                var out = [Float](repeating: .nan, count: oh * ow * f)
                var scratch = [Float](repeating: .nan, count: spot_winograd_scratch_count(c, f, ow))
                variant.forward(x, c, u, b, f, oh, ow, relu, &out, &scratch)
                let worst = zip(out, expected).map { abs(Double($0) - $1) }.max()!
                // Float rounding of sums of 9c terms, relative to the largest sum of magnitudes.
                #expect(worst <= 1e-6 * scale, "\(variant.name), relu \(relu): largest difference \(worst), scale \(scale)")
            }
        }
    }

    /// The layer gives the same output with Winograd on and off (on 3×3, c a multiple of 8)
    /// and the backward pass is unaffected.
    @Test func layerForwardAgreesWithAndWithoutWinograd() {
        func layer(winograd: Bool) -> Conv2D {
            let layer = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, activation: .relu,
                               rng: RandomGenerator(seed: 64))
            layer.bias.value.assign(from: Tensor.uniform([64], lower: -0.1, upper: 0.1, rng: RandomGenerator(seed: 65)))
            layer.algorithm = .implicitGEMM
            layer.winogradForward = winograd
            return layer
        }
        let on = layer(winograd: true), off = layer(winograd: false)
        let x = Tensor.uniform([3, 13, 12, 32], rng: RandomGenerator(seed: 66))
        let a = on.forward(x, training: true).copy(), b = off.forward(x, training: true).copy()
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5, "largest difference \(worst)")
        #expect(a.scalars != b.scalars, "Winograd ran: it rounds differently from the direct product")
        #expect(a.scalars.contains { $0 > 0 } && a.scalars.contains { $0 == 0 })
    }
}
