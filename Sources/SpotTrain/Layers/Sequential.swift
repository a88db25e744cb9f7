/// A stack of layers applied in order; itself a ``Layer``.
///
/// Unnamed layers get Keras-like names by kind and position among their kind: `conv1`,
/// `conv2`, `pool1`, `dropout1`, `flatten1`, `dense1`, …, so parameters have stable dotted
/// names (`conv1.weight`, `dense2.bias`). ``parameters`` lists them layer by layer, weight
/// before bias: this is the model's canonical parameter order (used by checkpoints and by
/// ``parameterFingerprintBytes()``).
///
/// The first layer does not compute an input gradient (its input is data).
public final class Sequential: Layer {
    /// The model name (prefixes nothing; parameter names come from the layers).
    public var name: String
    /// The layers, first to last.
    public let layers: [Layer]
    public var computesInputGradient: Bool {
        get { layers.first?.computesInputGradient ?? true }
        set { layers.first?.computesInputGradient = newValue }
    }

    /// Creates a stack; assigns names to unnamed layers and checks that names are unique.
    /// - Parameters:
    ///   - layers: The layers, first to last.
    ///   - name: The model's name.
    public init(_ layers: [Layer], name: String = "sequential") {
        self.layers = layers
        self.name = name
        var counts: [String: Int] = [:]
        for layer in layers where layer.name.isEmpty {
            let kind = Sequential.kindName(layer)
            counts[kind, default: 0] += 1
            layer.name = "\(kind)\(counts[kind]!)"
        }
        var seen = Set<String>()
        for layer in layers {
            precondition(seen.insert(layer.name).inserted, "Sequential: duplicate layer name \(layer.name)")
        }
        layers.first?.computesInputGradient = false
    }

    private static func kindName(_ layer: Layer) -> String {
        switch layer {
        case is Conv2D: return "conv"
        case is Dense: return "dense"
        case is MaxPool2D: return "pool"
        case is Dropout: return "dropout"
        case is Flatten: return "flatten"
        case is ReLU: return "relu"
        case is Sequential: return "block"
        default: return String(describing: type(of: layer)).lowercased()
        }
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        layers.reduce(inputShape) { $1.outputShape(for: $0) }
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        var x = input
        for layer in layers { x = layer.forward(x, training: training) }
        return x
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var g = outputGradient
        for layer in layers.reversed() { g = layer.backward(g) }
        return g
    }
}
