/// Labelled examples held in memory: images as one NHWC tensor, labels as class indices.
///
/// Shapes: ``images`` is `[count, height, width, channels]` (NHWC, as everywhere in
/// SpotTrain; any rank ≥ 1 works, the first dimension is the example index) and
/// ``labels`` has `count` entries.
///
/// Batches are copied out with ``gather(_:into:)`` into a reusable ``Batch`` made by
/// ``makeBatch(capacity:)``, so a training loop allocates nothing per step.
public final class Dataset {
    /// All examples, `[count, height, width, channels]`.
    public let images: Tensor
    /// The class index of each example.
    public let labels: [Int32]

    /// Creates a dataset.
    /// - Parameters:
    ///   - images: `[count, ...]`, example index first (NHWC for images).
    ///   - labels: `count` class indices.
    public init(images: Tensor, labels: [Int32]) {
        precondition(images.rank >= 1, "Dataset: images must have an example dimension, shape is \(images.shape)")
        precondition(images.shape[0] == labels.count,
                     "Dataset: images shape \(images.shape) holds \(images.shape[0]) examples but there are \(labels.count) labels")
        self.images = images
        self.labels = labels
        self.exampleShape = Array(images.shape.dropFirst())
        self.exampleSize = Tensor.elementCount(exampleShape)
    }

    /// The number of examples.
    public var count: Int { labels.count }

    /// The shape of one example, `[height, width, channels]` for images.
    public let exampleShape: [Int]

    /// The number of `Float`s in one example (the product of ``exampleShape``).
    public let exampleSize: Int

    /// The first `n` examples as a new dataset (copied).
    /// - Parameter n: `0...count`.
    /// - Returns: A dataset of `n` examples.
    public func subset(first n: Int) -> Dataset {
        precondition(n >= 0 && n <= count, "Dataset.subset: first \(n) is outside 0...\(count)")
        let shape = [n] + exampleShape
        let out = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)))
        if out.count > 0 { out.pointer.update(from: images.pointer, count: out.count) }
        return Dataset(images: out, labels: Array(labels[0..<n]))
    }

    /// Makes a batch buffer for up to `capacity` examples of this dataset's shape; reuse it
    /// for every step.
    /// - Parameter capacity: The batch size (at least 1).
    /// - Returns: An empty batch.
    public func makeBatch(capacity: Int) -> Batch {
        Batch(capacity: capacity, exampleShape: exampleShape)
    }

    /// Copies the examples at `indices` into `batch`, in order, replacing its contents; the
    /// batch's ``Batch/count`` becomes `indices.count`.
    ///
    /// Allocates nothing when `indices` has contiguous storage (an `Array` or `ArraySlice`,
    /// such as ``BatchSampler/indices(epoch:batch:)``). Large batches are copied in parallel.
    /// - Parameters:
    ///   - indices: Example indices in `0..<count`; at most `batch.capacity` of them.
    ///   - batch: A batch from ``makeBatch(capacity:)`` (its example shape must match).
    public func gather<Indices: Collection<Int>>(_ indices: Indices, into batch: Batch) {
        let done: Void? = indices.withContiguousStorageIfAvailable { gather($0, into: batch) }
        if done == nil {
            Array(indices).withUnsafeBufferPointer { gather($0, into: batch) }
        }
    }

    private func gather(_ indices: UnsafeBufferPointer<Int>, into batch: Batch) {
        precondition(batch.exampleShape == exampleShape,
                     "Dataset.gather: batch example shape \(batch.exampleShape) does not match dataset example shape \(exampleShape)")
        precondition(indices.count <= batch.capacity,
                     "Dataset.gather: \(indices.count) indices exceed the batch capacity \(batch.capacity)")
        let n = count
        for i in indices {
            precondition(i >= 0 && i < n, "Dataset.gather: index \(i) is outside 0..<\(n)")
        }
        let size = exampleSize
        let source = images.pointer
        let destination = batch.prepare(count: indices.count).pointer
        let labelDestination = batch.labelStorage
        labels.withUnsafeBufferPointer { labelSource in
            // Copying is memory-bound: hand a thread at least ~256 KiB of floats.
            Parallel.forChunks(count: indices.count, minimumChunk: max(1, (1 << 16) / max(1, size))) { range in
                for row in range {
                    let example = indices[row]
                    (destination + row * size).update(from: source + example * size, count: size)
                    labelDestination[row] = labelSource[example]
                }
            }
        }
    }
}
