/// A layer that can take its input size from the model instead of its initializer.
///
/// ``Sequential/init(inputShape:name:_:)`` propagates the declared input shape through its
/// layers in order and calls ``build(inputShape:)`` on each layer of this kind that is not
/// built yet, with the full (batch-first) shape that reaches it. The built-in examples:
/// ``Dense`` made with ``Dense/init(units:activation:initializer:name:rng:)`` learns its input
/// size after a ``Flatten`` without the caller computing it, and ``Conv2D`` made with
/// `init(filters:kernelSize:…)` takes its input channels from the last extent of the shape.
///
/// A layer that draws weights must draw them in ``build(inputShape:)`` exactly as its
/// eager initializer would, so that build order alone decides the random stream.
public protocol ShapeInferringLayer: Layer {
    /// Whether the layer's parameters exist with their final shapes.
    var isBuilt: Bool { get }

    /// Creates the parameters for the given input shape; on a built layer, only checks that
    /// the shape fits (a `precondition` naming both shapes).
    /// - Parameter inputShape: The full input shape, batch first.
    func build(inputShape: [Int])
}

/// Collects the layers of a ``Sequential`` written as a block, one layer per line:
///
/// ```swift
/// let model = Sequential(inputShape: [28, 28, 1]) {
///     Conv2D(filters: 32, kernelSize: 3, activation: .relu, rng: rng)
///     MaxPool2D(poolSize: 2)
///     Flatten()
///     Dense(units: 10, rng: rng)
/// }
/// ```
///
/// The lines run in order, so layers that draw weights when created draw them in that order.
/// `if`, `if`/`else`, `for` and arrays of layers are allowed.
@resultBuilder
public enum LayerBuilder {
    /// One layer.
    /// - Parameter layer: The layer.
    /// - Returns: A one-element list.
    public static func buildExpression(_ layer: Layer) -> [Layer] { [layer] }
    /// Several layers, in order.
    /// - Parameter layers: The layers.
    /// - Returns: The same list.
    public static func buildExpression(_ layers: [Layer]) -> [Layer] { layers }
    /// The lines of a block, concatenated in order.
    /// - Parameter parts: The lines.
    /// - Returns: All their layers.
    public static func buildBlock(_ parts: [Layer]...) -> [Layer] { parts.flatMap { $0 } }
    /// An `if` without `else`.
    /// - Parameter part: The layers of the branch, if taken.
    /// - Returns: Those layers, or none.
    public static func buildOptional(_ part: [Layer]?) -> [Layer] { part ?? [] }
    /// The first branch of an `if`/`else`.
    /// - Parameter first: Its layers.
    /// - Returns: The same list.
    public static func buildEither(first: [Layer]) -> [Layer] { first }
    /// The second branch of an `if`/`else`.
    /// - Parameter second: Its layers.
    /// - Returns: The same list.
    public static func buildEither(second: [Layer]) -> [Layer] { second }
    /// A `for` loop.
    /// - Parameter parts: The layers of each iteration.
    /// - Returns: All of them, in order.
    public static func buildArray(_ parts: [[Layer]]) -> [Layer] { parts.flatMap { $0 } }
}
