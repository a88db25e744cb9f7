/// The rectified linear unit, `max(x, 0)`, elementwise on any shape.
///
/// ``Conv2D`` and ``Dense`` can fuse it (`activation: .relu`); this standalone layer is
/// for other positions.
public final class ReLU: Layer {
    /// The layer name.
    public var name: String
    public var computesInputGradient = true
    public var parameters: [Parameter] { [] }
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// Creates a ReLU layer.
    public init(name: String = "") { self.name = name }

    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let out = reuse(&output, shape: input.shape)
        let x = input.pointer, y = out.pointer
        Parallel.forChunks(count: input.count, minimumChunk: 1 << 16) { range in
            for i in range { y[i] = max(x[i], 0) }
        }
        return out
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let out = output else { preconditionFailure("ReLU \(name): backward called before forward") }
        precondition(outputGradient.shape == out.shape,
                     "ReLU \(name): output gradient shape \(outputGradient.shape) does not match output \(out.shape)")
        return activationBackward(.relu, output: out, gradient: outputGradient, scratch: &inputGradient)
    }
}
