/// Flattens every dimension after the batch: `[batch, d1, d2, …]` to `[batch, d1·d2·…]`.
///
/// In NHWC the flattened order is `(y, x, channel)`, as in Keras. No data is copied.
public final class Flatten: Layer {
    /// The layer name.
    public var name: String
    public var computesInputGradient = true
    public var parameters: [Parameter] { [] }
    private var inputShape: [Int] = []

    /// Creates a flatten layer.
    public init(name: String = "") { self.name = name }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(!inputShape.isEmpty, "Flatten \(name): input has no batch dimension")
        return [inputShape[0], inputShape.dropFirst().reduce(1, *)]
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        inputShape = input.shape
        return input.reshaped(outputShape(for: input.shape))
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        outputGradient.reshaped(inputShape)
    }
}
