/// A dense, row-major tensor of `Float` (32-bit) values with an explicit shape.
///
/// **Image layout is NHWC everywhere in SpotTrain**: a batch of images has shape
/// `[batch, height, width, channels]`, convolution kernels are `[kernelHeight, kernelWidth,
/// inputChannels, outputChannels]` and dense weights are `[inputFeatures, outputFeatures]`,
/// as in Keras. This lets a convolution lower onto a single matrix product whose output is
/// already NHWC.
///
/// `Tensor` is a reference type: two variables may name the same tensor, and
/// ``reshaped(_:)`` returns a view that shares storage. Hot loops use ``pointer`` or
/// ``buffer`` directly, without copy-on-write or bounds checks. Use ``copy()`` to get an
/// independent tensor.
public final class Tensor {
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    /// The storage this tensor views; shared by reshaped views.
    public let storage: TensorStorage
    /// The number of elements (the product of `shape`).
    public let count: Int

    // MARK: Creation

    /// Creates a tensor that views `storage` with the given shape.
    ///
    /// - Parameters:
    ///   - shape: Dimensions; their product must equal `storage.count`.
    ///   - storage: The storage to view.
    public init(shape: [Int], storage: TensorStorage) {
        let count = Tensor.elementCount(shape)
        precondition(count == storage.count,
                     "Tensor: shape \(shape) has \(count) elements but storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.count = count
    }

    /// Creates a tensor of the given shape with every element set to `value`.
    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, storage: TensorStorage(count: Tensor.elementCount(shape), repeating: value))
    }

    /// Creates a tensor from row-major values.
    ///
    /// - Parameters:
    ///   - shape: Dimensions.
    ///   - values: Exactly `shape.reduce(1, *)` values in row-major order.
    public convenience init(shape: [Int], values: [Float]) {
        let count = Tensor.elementCount(shape)
        precondition(values.count == count,
                     "Tensor: shape \(shape) needs \(count) values, got \(values.count)")
        let storage = TensorStorage(uninitializedCount: count)
        values.withUnsafeBufferPointer { src in
            if count > 0 { storage.pointer.initialize(from: src.baseAddress!, count: count) }
        }
        self.init(shape: shape, storage: storage)
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, repeating: 0)
    }

    /// A tensor filled with `value`.
    public static func filled(_ shape: [Int], with value: Float) -> Tensor {
        Tensor(shape: shape, repeating: value)
    }

    /// A tensor whose elements are drawn uniformly from `[lower, upper)`.
    ///
    /// - Parameters:
    ///   - shape: Dimensions.
    ///   - lower: Inclusive lower bound.
    ///   - upper: Exclusive upper bound.
    ///   - rng: The generator to draw from; its state advances by `count` draws.
    public static func uniform(_ shape: [Int], lower: Float = 0, upper: Float = 1,
                               rng: RandomGenerator) -> Tensor {
        let t = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: elementCount(shape)))
        rng.fillUniform(t.buffer, lower: lower, upper: upper)
        return t
    }

    /// A tensor whose elements are drawn from a normal distribution.
    ///
    /// - Parameters:
    ///   - shape: Dimensions.
    ///   - mean: The mean.
    ///   - standardDeviation: The standard deviation.
    ///   - rng: The generator to draw from.
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                              rng: RandomGenerator) -> Tensor {
        let t = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: elementCount(shape)))
        rng.fillNormal(t.buffer, mean: mean, standardDeviation: standardDeviation)
        return t
    }

    // MARK: Access

    /// The first element, for hot loops. Valid while this tensor (or its storage) is alive.
    @inlinable public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// All elements as a mutable buffer, for hot loops.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: storage.pointer, count: count)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The elements copied into an array, in row-major order.
    public var scalars: [Float] { Array(buffer) }

    /// Reads or writes one element by its full index (bounds-checked; for tests and setup,
    /// not for hot loops).
    public subscript(_ indices: Int...) -> Float {
        get { pointer[flatIndex(indices)] }
        set { pointer[flatIndex(indices)] = newValue }
    }

    /// The row-major offset of a full index, with bounds checks.
    public func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count,
                     "Tensor: index \(indices) has rank \(indices.count), tensor shape is \(shape)")
        var offset = 0
        for (i, (index, extent)) in zip(indices, shape).enumerated() {
            precondition(index >= 0 && index < extent,
                         "Tensor: index \(indices) out of bounds in dimension \(i) for shape \(shape)")
            offset = offset * extent + index
        }
        return offset
    }

    // MARK: Shape

    /// A view with a new shape over the same storage (no copy).
    ///
    /// One dimension may be `-1`; it is inferred from the element count.
    /// - Parameter newShape: The new dimensions; their product must equal ``count``.
    /// - Returns: A tensor sharing this tensor's storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0,
                         "Tensor.reshaped: cannot infer -1 in \(newShape) from shape \(shape)")
            resolved[inferred] = count / known
        }
        precondition(Tensor.elementCount(resolved) == count,
                     "Tensor.reshaped: shape \(shape) (\(count) elements) cannot become \(newShape)")
        return Tensor(shape: resolved, storage: storage)
    }

    /// An independent copy with its own storage.
    public func copy() -> Tensor {
        let t = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: count))
        if count > 0 { t.pointer.update(from: pointer, count: count) }
        return t
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) {
        let p = pointer
        for i in 0..<count { p[i] = value }
    }

    /// Copies all elements of `other`, which must have the same element count.
    public func assign(from other: Tensor) {
        precondition(other.count == count,
                     "Tensor.assign: source shape \(other.shape) does not match \(shape)")
        if count > 0 { pointer.update(from: other.pointer, count: count) }
    }

    /// The product of `shape`, checking that no dimension is negative and nothing overflows.
    public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape {
            precondition(d >= 0, "Tensor: negative dimension in shape \(shape)")
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            precondition(!overflow, "Tensor: element count of shape \(shape) overflows")
            n = p
        }
        return n
    }
}

extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    /// A short description: the shape and up to the first eight elements.
    public var description: String {
        let shown = buffer.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }

    /// A debug description with shape, element count, minimum, maximum and mean.
    public var debugDescription: String {
        guard count > 0 else { return "Tensor(shape: \(shape), empty)" }
        var lo = Float.infinity, hi = -Float.infinity, sum = 0.0
        for v in buffer { lo = min(lo, v); hi = max(hi, v); sum += Double(v) }
        return "Tensor(shape: \(shape), count: \(count), min: \(lo), max: \(hi), mean: \(sum / Double(count)))"
    }
}
