/// A position in the stream of batches: the next batch to train on.
///
/// The training loop stores it in its training state (and so in every checkpoint); together
/// with the ``BatchSampler``'s seed it determines the next batch exactly, so a run resumed
/// mid-epoch continues with the batch the interrupted run would have used.
/// Epochs and batches count from 0.
public struct BatchCursor: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The epoch, from 0.
    public var epoch: Int
    /// The batch within the epoch, from 0 to ``BatchSampler/batchesPerEpoch``.
    /// Equal to `batchesPerEpoch` only transiently; ``BatchSampler/advance(_:)`` moves to the
    /// next epoch instead.
    public var batchIndex: Int

    /// Creates a cursor.
    /// - Parameters:
    ///   - epoch: The epoch, at least 0.
    ///   - batchIndex: The batch within the epoch, at least 0.
    public init(epoch: Int = 0, batchIndex: Int = 0) {
        precondition(epoch >= 0 && batchIndex >= 0,
                     "BatchCursor: epoch \(epoch) and batchIndex \(batchIndex) must not be negative")
        self.epoch = epoch
        self.batchIndex = batchIndex
    }

    /// The first batch of the first epoch.
    public static let start = BatchCursor()

    /// Orders cursors by epoch, then batch.
    public static func < (lhs: BatchCursor, rhs: BatchCursor) -> Bool {
        (lhs.epoch, lhs.batchIndex) < (rhs.epoch, rhs.batchIndex)
    }

    /// `epoch E, batch B`.
    public var description: String { "epoch \(epoch), batch \(batchIndex)" }
}
