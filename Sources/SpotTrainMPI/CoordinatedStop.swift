import SpotTrain

/// Stops training with ``TrainingStatus/interrupted`` at the step at which the ranks agreed
/// on an interruption, without saving: the callback for the ranks other than 0, while rank 0
/// runs ``SpotInterruption`` over the same ``MPIGradientReducer/interruptions`` source and
/// writes the checkpoint. Both stop after the same batch.
public final class CoordinatedStop: Callback {
    /// The agreed interruptions.
    public let source: any InterruptionSource

    /// Creates the callback.
    /// - Parameter source: ``MPIGradientReducer/interruptions``.
    public init(source: any InterruptionSource) {
        self.source = source
    }

    public func batchEnd(_ context: TrainingContext) throws { check(context) }
    public func epochEnd(_ context: TrainingContext) throws { check(context) }

    private func check(_ context: TrainingContext) {
        if let request = source.pendingInterruption {
            context.requestStop(.interrupted, reason: "\(request.kind.rawValue) (\(request.reason))")
        }
    }
}
