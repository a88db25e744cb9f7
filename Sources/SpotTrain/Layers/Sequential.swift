/// A stack of layers applied in order; itself a ``Layer``.
///
/// Unnamed layers get Keras-like names by kind and position among their kind: `conv1`,
/// `conv2`, `pool1`, `dropout1`, `flatten1`, `dense1`, …, so parameters have stable dotted
/// names (`conv1.weight`, `dense2.bias`). ``parameters`` lists them layer by layer, weight
/// before bias: this is the model's canonical parameter order (used by checkpoints and by
/// ``parameterFingerprintBytes()``).
///
/// The first layer does not compute an input gradient (its input is data).
///
/// **Shape inference.** Made with ``init(inputShape:name:_:)`` (or its array form), the model
/// knows the shape of one example, propagates it through its layers when it is created,
/// builds every ``ShapeInferringLayer`` that is not built yet (such as
/// ``Dense/init(units:activation:initializer:name:rng:)`` after a ``Flatten``, or a ``Conv2D``
/// made with `init(filters:kernelSize:…)`), and checks
/// every layer's shape there, so a mismatch stops at construction with the layer's name.
/// ``forward(_:training:)`` then also checks that its input is `[batch] + inputShape`.
public final class Sequential: Layer {
    /// The model name (prefixes nothing; parameter names come from the layers).
    public var name: String
    /// The layers, first to last.
    public let layers: [Layer]
    /// The shape of one input example (no batch dimension), if the model was made with
    /// ``init(inputShape:name:_:)``; `nil` otherwise.
    public let inputShape: [Int]?
    public var computesInputGradient: Bool {
        get { layers.first?.computesInputGradient ?? true }
        set { layers.first?.computesInputGradient = newValue }
    }

    /// Creates a stack; assigns names to unnamed layers and checks that names are unique.
    ///
    /// Every layer must be usable as it is: a ``ShapeInferringLayer`` that is not built
    /// (a ``Dense/init(units:activation:initializer:name:rng:)``, a `Conv2D(filters:…)`) needs
    /// ``init(inputShape:_:name:)`` instead, and stops here with a message saying so.
    /// - Parameters:
    ///   - layers: The layers, first to last.
    ///   - name: The model's name.
    public convenience init(_ layers: [Layer], name: String = "sequential") {
        self.init(layers: layers, name: name, inputShape: nil)
    }

    /// Creates a stack from a block of layers (see ``LayerBuilder``), without an input shape.
    /// - Parameters:
    ///   - name: The model's name.
    ///   - layers: The layers, one per line.
    public convenience init(name: String = "sequential", @LayerBuilder _ layers: () -> [Layer]) {
        self.init(layers: layers(), name: name, inputShape: nil)
    }

    /// Creates a stack for inputs of one example shape, inferring the input sizes that
    /// depend on it.
    ///
    /// The shape `[1] + inputShape` is passed through the layers in order; each
    /// ``ShapeInferringLayer`` that is not built is built with the shape that reaches it, and
    /// every layer checks the shape it gets (a `precondition` naming the layer and the shape).
    /// - Parameters:
    ///   - inputShape: One example's shape without the batch dimension, such as
    ///     `[28, 28, 1]` (NHWC) or `[784]`; every extent positive.
    ///   - layers: The layers, first to last.
    ///   - name: The model's name.
    public convenience init(inputShape: [Int], _ layers: [Layer], name: String = "sequential") {
        self.init(layers: layers, name: name, inputShape: inputShape)
    }

    /// Creates a stack for inputs of one example shape from a block of layers (see
    /// ``LayerBuilder`` and ``init(inputShape:_:name:)``):
    ///
    /// ```swift
    /// let model = Sequential(inputShape: [28, 28, 1]) {
    ///     Conv2D(filters: 32, kernelSize: 3, activation: .relu, rng: rng)    // 1 input channel, inferred
    ///     MaxPool2D(poolSize: 2)
    ///     Flatten()
    ///     Dense(units: 128, activation: .relu, rng: rng)   // 13·13·32 inputs, inferred
    ///     Dense(units: 10, rng: rng)
    /// }
    /// ```
    /// - Parameters:
    ///   - inputShape: One example's shape without the batch dimension; every extent positive.
    ///   - name: The model's name.
    ///   - layers: The layers, one per line.
    public convenience init(inputShape: [Int], name: String = "sequential", @LayerBuilder _ layers: () -> [Layer]) {
        self.init(layers: layers(), name: name, inputShape: inputShape)
    }

    private init(layers: [Layer], name: String, inputShape: [Int]?) {
        self.layers = layers
        self.name = name
        self.inputShape = inputShape
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
        if let inputShape {
            precondition(!inputShape.isEmpty && inputShape.allSatisfy { $0 > 0 },
                         "Sequential \(name): inputShape \(inputShape) must have at least one dimension, all positive")
            var shape = [1] + inputShape
            for layer in layers {
                if let deferred = layer as? ShapeInferringLayer, !deferred.isBuilt {
                    deferred.build(inputShape: shape)
                }
                shape = layer.outputShape(for: shape)
            }
        } else {
            for case let deferred as ShapeInferringLayer in layers where !deferred.isBuilt {
                preconditionFailure("Sequential \(name): layer \(deferred.name) (\(type(of: deferred))) has no input size; "
                                    + "create the model with Sequential(inputShape:) so that it is inferred")
            }
        }
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
        if let inputShape {
            precondition(input.rank == inputShape.count + 1 && input.shape.dropFirst().elementsEqual(inputShape),
                         "Sequential \(name): input shape \(input.shape) does not match [batch] + \(inputShape)")
        }
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
