/// A reusable buffer holding one batch of examples, filled by ``Dataset/gather(_:into:)``.
///
/// Shapes: ``images`` is `[count, height, width, channels]` (NHWC) and ``labels`` has
/// `count` entries, where ``count`` ≤ ``capacity`` (the last batch of an epoch may be
/// partial). Memory is allocated once for full batches and once for the partial size (the
/// partial batch of an epoch always has the same size), so steady-state training allocates
/// nothing. The contents are overwritten by the next gather.
public final class Batch {
    /// The most examples the batch holds.
    public let capacity: Int
    /// The shape of one example, `[height, width, channels]` for images.
    public let exampleShape: [Int]
    /// The number of examples currently held.
    public var count: Int { images.shape[0] }

    /// The images, `[count, height, width, channels]`. The same tensor object is reused by
    /// later gathers of the same size: copy it to keep it.
    public private(set) var images: Tensor

    /// Storage for `capacity` labels.
    let labelStorage: UnsafeMutablePointer<Int32>
    private let fullImages: Tensor
    private var partialImages: Tensor

    /// Creates an empty batch.
    /// - Parameters:
    ///   - capacity: The most examples (at least 1).
    ///   - exampleShape: The shape of one example, such as `[28, 28, 1]`.
    public init(capacity: Int, exampleShape: [Int]) {
        precondition(capacity >= 1, "Batch: capacity \(capacity) must be at least 1")
        self.capacity = capacity
        self.exampleShape = exampleShape
        fullImages = Tensor.zeros([capacity] + exampleShape)
        partialImages = Tensor.zeros([0] + exampleShape)
        images = partialImages
        labelStorage = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        labelStorage.initialize(repeating: 0, count: capacity)
    }

    deinit { labelStorage.deallocate() }

    /// The labels of the held examples, for hot loops; valid until the next gather and while
    /// the batch is alive.
    public var labels: UnsafeBufferPointer<Int32> {
        UnsafeBufferPointer(start: labelStorage, count: count)
    }

    /// The labels copied into an array (allocates; for tests and reporting).
    public var labelArray: [Int32] { Array(labels) }

    /// Makes the batch hold `n` examples and returns the tensor to fill, `[n, ...]`.
    func prepare(count n: Int) -> Tensor {
        precondition(n >= 0 && n <= capacity, "Batch: count \(n) is outside 0...\(capacity)")
        if n == capacity {
            images = fullImages
        } else {
            if partialImages.shape[0] != n { partialImages = Tensor.zeros([n] + exampleShape) }
            images = partialImages
        }
        return images
    }
}
