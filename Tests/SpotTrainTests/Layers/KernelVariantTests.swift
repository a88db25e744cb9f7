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
