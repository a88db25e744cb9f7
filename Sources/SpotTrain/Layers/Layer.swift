/// A trainable tensor and its gradient, known by a stable dotted name such as
/// `conv1.weight`.
///
/// `gradient` has the same shape as `value`. Layers *accumulate* into `gradient` during
/// ``Layer/backward(_:)``; call ``zeroGradient()`` (or ``Layer/zeroGradients()``) before each
/// batch.
public final class Parameter {
    /// The dotted name, unique within a model (`conv1.weight`, `dense2.bias`).
    public internal(set) var name: String
    /// The current value.
    public let value: Tensor
    /// The accumulated gradient of the loss with respect to ``value``.
    public let gradient: Tensor

    /// Creates a parameter with a zero gradient.
    /// - Parameters:
    ///   - name: The dotted name.
    ///   - value: The initial value; the parameter takes ownership.
    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.gradient = Tensor.zeros(value.shape)
    }

    /// Sets the gradient to zero.
    public func zeroGradient() { gradient.fill(0) }
}

/// A differentiable layer over batches in NHWC (images) or `[batch, features]` layout.
///
/// Forward and backward sit next to each other in each conforming type. ``forward(_:training:)``
/// caches what ``backward(_:)`` needs; ``backward(_:)`` must follow the forward pass it belongs
/// to, returns the gradient with respect to that forward's input, and accumulates (`+=`) into
/// the gradients of ``parameters``.
///
/// **Buffer ownership:** for speed, a layer may return the same output tensor object from
/// every call with the same input shape, overwriting it. A caller that needs an output after
/// the next forward call must ``Tensor/copy()`` it.
public protocol Layer: AnyObject {
    /// The layer's name; its parameters are named `"\(name).weight"` and so on.
    var name: String { get set }

    /// The trainable parameters in a fixed order (weight before bias).
    var parameters: [Parameter] { get }

    /// Whether ``backward(_:)`` must compute the input gradient. ``Sequential`` turns it off
    /// for its first layer, whose input is data; the parameter gradients are still computed
    /// and the returned tensor's contents are then unspecified.
    var computesInputGradient: Bool { get set }

    /// The output shape for a given input shape.
    /// - Parameter inputShape: The full input shape, batch first.
    /// - Returns: The full output shape, batch first.
    func outputShape(for inputShape: [Int]) -> [Int]

    /// Computes the layer's output.
    /// - Parameters:
    ///   - input: A batch, batch dimension first.
    ///   - training: `true` while training (dropout active), `false` for inference.
    /// - Returns: The output batch.
    func forward(_ input: Tensor, training: Bool) -> Tensor

    /// Back-propagates the gradient of the loss.
    /// - Parameter outputGradient: The gradient with respect to the last forward output.
    /// - Returns: The gradient with respect to the last forward input.
    func backward(_ outputGradient: Tensor) -> Tensor
}

extension Layer {
    /// Sets every parameter's gradient to zero.
    public func zeroGradients() {
        for p in parameters { p.zeroGradient() }
    }

    /// The number of trainable scalars.
    public var parameterCount: Int {
        parameters.reduce(0) { $0 + $1.value.count }
    }

    /// The parameter signature: names and shapes in canonical order.
    public var parameterSignature: [(name: String, shape: [Int])] {
        parameters.map { ($0.name, $0.value.shape) }
    }

    /// Every parameter's value as little-endian Float32 bytes, concatenated in canonical
    /// order: hash this (SHA-256) for the `weights_sha256` fingerprint of a run.
    public func parameterFingerprintBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(parameterCount * 4)
        for p in parameters {
            for v in p.value.buffer {
                let bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
            }
        }
        return bytes
    }
}
