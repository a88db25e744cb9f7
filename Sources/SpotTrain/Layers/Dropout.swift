/// Inverted dropout: while training, each element is zeroed with probability `rate` and the
/// survivors are scaled by `1 / (1 − rate)`; at inference it is the identity.
///
/// The mask is drawn from the shared ``RandomGenerator`` (one draw per element), so a
/// restored generator state reproduces the same masks. In data-parallel training the
/// generator's ``RandomGenerator/batchSlice`` makes each process draw its rows' part of the
/// global batch's mask, so the masks do not depend on the number of processes.
public final class Dropout: Layer {
    /// The layer name.
    public var name: String
    /// The probability of dropping an element, in `[0, 1)`.
    public let rate: Float
    /// The generator the masks are drawn from.
    public let rng: RandomGenerator
    public var computesInputGradient = true
    public var parameters: [Parameter] { [] }

    private var mask: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var wasTraining = false

    /// Creates a dropout layer.
    /// - Parameters:
    ///   - rate: Drop probability in `[0, 1)`.
    ///   - name: Layer name.
    ///   - rng: The generator for masks (usually the model's shared generator).
    public init(rate: Float, name: String = "", rng: RandomGenerator) {
        precondition(rate >= 0 && rate < 1, "Dropout: rate \(rate) is not in [0, 1)")
        self.rate = rate
        self.name = name
        self.rng = rng
    }

    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        wasTraining = training && rate > 0
        guard wasTraining else { return input }
        let m = reuse(&mask, shape: input.shape)
        let out = reuse(&output, shape: input.shape)
        rng.fillUniform(m.buffer, rows: input.shape[0])
        let keep = 1 / (1 - rate), rate = self.rate
        let x = input.pointer, y = out.pointer, mp = m.pointer
        Parallel.forChunks(count: input.count, minimumChunk: 1 << 16) { range in
            for i in range {
                let s: Float = mp[i] >= rate ? keep : 0
                mp[i] = s
                y[i] = x[i] * s
            }
        }
        return out
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard wasTraining else { return outputGradient }
        guard let m = mask else { preconditionFailure("Dropout \(name): backward called before forward") }
        precondition(outputGradient.shape == m.shape,
                     "Dropout \(name): output gradient shape \(outputGradient.shape) does not match \(m.shape)")
        let dx = reuse(&inputGradient, shape: m.shape)
        let g = outputGradient.pointer, d = dx.pointer, mp = m.pointer
        Parallel.forChunks(count: m.count, minimumChunk: 1 << 16) { range in
            for i in range { d[i] = g[i] * mp[i] }
        }
        return dx
    }
}
