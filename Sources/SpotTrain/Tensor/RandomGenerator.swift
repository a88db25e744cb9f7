/// The one source of randomness in SpotTrain: a seedable, counter-based generator
/// (SplitMix64) whose complete state is a single `UInt64`.
///
/// Every random decision (weight initialisation, dropout masks, shuffling) draws from a
/// `RandomGenerator`, so saving ``state`` in a checkpoint and restoring it makes a resumed
/// run draw exactly the numbers the uninterrupted run would have drawn.
///
/// Draw *k* (counting from 1) after state *s* is `mix(s + k·γ)`, with γ the golden-ratio
/// increment; so a block of draws can be produced in parallel and the result is identical
/// for any thread count.
///
/// It is a reference type so that several layers can share one stream.
public final class RandomGenerator: RandomNumberGenerator {
    /// The golden-ratio increment of SplitMix64.
    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The complete state. Reading it and later assigning it back replays the same draws.
    public var state: UInt64

    /// The rows of a global batch that this process computes, set by a data-parallel
    /// training loop around each step (`nil`, the default, outside data parallelism): layers
    /// that draw per example (``Dropout``) draw through ``fillUniform(_:rows:)``, which honours it.
    /// It is not part of the stream's state and is never saved.
    public var batchSlice: BatchSlice?

    /// Creates a generator.
    /// - Parameter seed: Any value; equal seeds give equal streams.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// Creates an independent generator for a sub-stream, such as one epoch's shuffle:
    /// the result depends only on `seed` and `stream`.
    /// - Parameters:
    ///   - seed: The run's seed.
    ///   - stream: A stream number (for example the epoch).
    public convenience init(seed: UInt64, stream: UInt64) {
        self.init(seed: RandomGenerator.mix(seed ^ RandomGenerator.mix(stream &+ 0x5851_F42D_4C95_7F2D)))
    }

    /// The SplitMix64 output function (a bijective 64-bit mixer).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inlinable
    public func next() -> UInt64 {
        state = state &+ RandomGenerator.increment
        return RandomGenerator.mix(state)
    }

    /// A uniform `Float` in `[0, 1)` with 24 random bits.
    @inlinable
    public func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform integer in `0..<upperBound`, without modulo bias.
    /// - Parameter upperBound: Positive exclusive bound.
    public func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "RandomGenerator.nextInt: upperBound \(upperBound) must be positive")
        let bound = UInt64(upperBound)
        // Lemire's multiply-shift with rejection.
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return Int(product.high)
    }

    /// Shuffles `indices` in place with Fisher–Yates, the same way on every platform and
    /// Swift version (unlike `Array.shuffle(using:)`, whose algorithm is unspecified).
    public func shuffle(_ indices: inout [Int]) {
        guard indices.count > 1 else { return }
        for i in stride(from: indices.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { indices.swapAt(i, j) }
        }
    }

    /// Fills `buffer` with uniform values in `[lower, upper)`; advances the state by
    /// `buffer.count` draws. The result does not depend on the thread count.
    public func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, lower: Float = 0, upper: Float = 1) {
        let base = state
        let scale = (upper - lower) * 0x1p-24
        let out = buffer.baseAddress
        Parallel.forChunks(count: buffer.count, minimumChunk: 1 << 15) { range in
            guard let out else { return }
            for i in range {
                let bits = RandomGenerator.mix(base &+ UInt64(truncatingIfNeeded: i + 1) &* RandomGenerator.increment)
                out[i] = lower + Float(bits >> 40) * scale
            }
        }
        state = base &+ UInt64(truncatingIfNeeded: buffer.count) &* RandomGenerator.increment
    }

    /// Fills `buffer` with normally distributed values (Box–Muller, one pair of draws per
    /// pair of values; an odd last value uses a pair too). Advances the state by
    /// `2 * ceil(count / 2)` draws.
    public func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float = 0, standardDeviation: Float = 1) {
        let n = buffer.count
        guard n > 0, let out = buffer.baseAddress else { return }
        for pair in 0..<((n + 1) / 2) {
            // u1 in (0, 1] so that log is finite.
            let u1 = (Double(next() >> 11) + 1) * 0x1p-53
            let u2 = Double(next() >> 11) * 0x1p-53
            let r = (-2 * _log(u1)).squareRoot()
            let theta = 2 * Double.pi * u2
            out[2 * pair] = mean + standardDeviation * Float(r * _cos(theta))
            if 2 * pair + 1 < n { out[2 * pair + 1] = mean + standardDeviation * Float(r * _sin(theta)) }
        }
    }
}
