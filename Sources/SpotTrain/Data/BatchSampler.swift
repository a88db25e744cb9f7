/// The order in which examples are visited: a fresh shuffle each epoch that depends only on
/// `(seed, epoch)`, cut into batches.
///
/// Epoch *e*'s order is the identity permutation shuffled by Fisher–Yates
/// (``RandomGenerator/shuffle(_:)``) with `RandomGenerator(seed: seed, stream: UInt64(e))`,
/// so any epoch can be recomputed from the seed alone: no sampler state needs saving beyond
/// a ``BatchCursor``. Batch *b* of an epoch is `order[b * batchSize ..< min((b + 1) * batchSize, count)]`;
/// the last batch is partial when `count` is not a multiple of `batchSize`, unless
/// `dropLast` is set.
///
/// The current epoch's permutation is cached, so asking for consecutive batches costs no
/// recomputation. Not thread-safe: use one sampler per training loop.
public final class BatchSampler {
    /// The number of examples in the dataset.
    public let count: Int
    /// The number of examples in a full batch.
    public let batchSize: Int
    /// The seed of the shuffle.
    public let seed: UInt64
    /// Whether epochs are shuffled; if `false`, every epoch visits `0..<count` in order.
    public let shuffle: Bool
    /// Whether a final partial batch is skipped.
    public let dropLast: Bool

    private var cachedEpoch: Int = -1
    private var cachedOrder: [Int] = []

    /// Creates a sampler.
    /// - Parameters:
    ///   - count: The number of examples (at least 0).
    ///   - batchSize: The examples per batch (at least 1).
    ///   - seed: The shuffle seed.
    ///   - shuffle: `false` visits examples in their stored order every epoch.
    ///   - dropLast: `true` skips the last batch when it would be partial.
    public init(count: Int, batchSize: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = false) {
        precondition(count >= 0, "BatchSampler: count \(count) is negative")
        precondition(batchSize >= 1, "BatchSampler: batchSize \(batchSize) must be at least 1")
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
    }

    /// The number of batches in each epoch, including a final partial batch unless
    /// ``dropLast`` is set.
    public var batchesPerEpoch: Int {
        dropLast ? count / batchSize : (count + batchSize - 1) / batchSize
    }

    /// The number of examples visited per epoch (`count`, or fewer with ``dropLast``).
    public var examplesPerEpoch: Int {
        dropLast ? batchesPerEpoch * batchSize : count
    }

    /// The permutation of `0..<count` that epoch `epoch` visits. Cached for the most recent
    /// epoch asked for.
    /// - Parameter epoch: The epoch, at least 0.
    /// - Returns: A permutation of `0..<count`.
    public func order(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "BatchSampler.order: epoch \(epoch) is negative")
        if epoch != cachedEpoch {
            var order = Array(0..<count)
            if shuffle {
                RandomGenerator(seed: seed, stream: UInt64(epoch)).shuffle(&order)
            }
            cachedOrder = order
            cachedEpoch = epoch
        }
        return cachedOrder
    }

    /// The example indices of batch `batch` of epoch `epoch`.
    ///
    /// Returns a slice of the cached permutation: no allocation when the epoch is the cached one.
    /// - Parameters:
    ///   - epoch: The epoch, at least 0.
    ///   - batch: The batch, in `0..<batchesPerEpoch`.
    /// - Returns: `batchSize` indices, or fewer for the last partial batch.
    public func indices(epoch: Int, batch: Int) -> ArraySlice<Int> {
        precondition(batch >= 0 && batch < batchesPerEpoch,
                     "BatchSampler.indices: batch \(batch) is outside 0..<\(batchesPerEpoch) (count \(count), batchSize \(batchSize))")
        let start = batch * batchSize
        return order(epoch: epoch)[start..<min(start + batchSize, count)]
    }

    /// The example indices of the batch at `cursor`.
    /// - Parameter cursor: A cursor with `batchIndex < batchesPerEpoch`.
    /// - Returns: The indices, as ``indices(epoch:batch:)``.
    public func indices(at cursor: BatchCursor) -> ArraySlice<Int> {
        indices(epoch: cursor.epoch, batch: cursor.batchIndex)
    }

    /// The position after `cursor`: the next batch of the same epoch, or the first batch of
    /// the next epoch after the last one.
    /// - Parameter cursor: The current position.
    /// - Returns: The next position.
    public func advance(_ cursor: BatchCursor) -> BatchCursor {
        precondition(batchesPerEpoch > 0, "BatchSampler.advance: an epoch of \(count) examples has no batches of \(batchSize)")
        if cursor.batchIndex + 1 >= batchesPerEpoch {
            return BatchCursor(epoch: cursor.epoch + 1, batchIndex: 0)
        }
        return BatchCursor(epoch: cursor.epoch, batchIndex: cursor.batchIndex + 1)
    }

    /// The number of batches before `cursor`, counting from the start of epoch 0
    /// (`epoch * batchesPerEpoch + batchIndex`): the global step at which that batch is trained.
    /// - Parameter cursor: A position.
    /// - Returns: The global step.
    public func globalStep(at cursor: BatchCursor) -> Int {
        cursor.epoch * batchesPerEpoch + cursor.batchIndex
    }

    /// The position of the batch trained at global step `step` (the inverse of
    /// ``globalStep(at:)``).
    /// - Parameter step: A step, at least 0.
    /// - Returns: The cursor.
    public func cursor(atGlobalStep step: Int) -> BatchCursor {
        precondition(step >= 0, "BatchSampler.cursor: step \(step) is negative")
        precondition(batchesPerEpoch > 0, "BatchSampler.cursor: an epoch of \(count) examples has no batches of \(batchSize)")
        return BatchCursor(epoch: step / batchesPerEpoch, batchIndex: step % batchesPerEpoch)
    }
}
