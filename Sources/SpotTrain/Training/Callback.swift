/// Hooks into ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``.
///
/// Every method has a no-op default. The order of events is
/// `trainBegin (epochBegin (batchBegin batchEnd)* epochEnd)* trainEnd`; a run resumed in the
/// middle of an epoch does not repeat that epoch's `epochBegin`. Any callback may call
/// ``TrainingContext/requestStop(_:reason:)``; the loop stops after the current round of
/// callbacks, and `trainEnd` is always called. A callback that throws aborts training with
/// that error (after `trainEnd` is *not* called), so callbacks that can fail harmlessly, such as
/// a checkpoint save, catch their own errors.
public protocol Callback: AnyObject {
    /// Training starts (or resumes).
    func trainBegin(_ context: TrainingContext) throws
    /// An epoch starts.
    func epochBegin(_ context: TrainingContext) throws
    /// A batch is about to be trained.
    func batchBegin(_ context: TrainingContext) throws
    /// A batch was trained; ``TrainingContext/lastStep`` holds its loss.
    func batchEnd(_ context: TrainingContext) throws
    /// An epoch ended; validation metrics are in ``TrainingContext/logs``.
    func epochEnd(_ context: TrainingContext) throws
    /// Training ends for any reason other than an error; ``TrainingContext/status`` says why.
    func trainEnd(_ context: TrainingContext) throws
}

extension Callback {
    public func trainBegin(_ context: TrainingContext) throws {}
    public func epochBegin(_ context: TrainingContext) throws {}
    public func batchBegin(_ context: TrainingContext) throws {}
    public func batchEnd(_ context: TrainingContext) throws {}
    public func epochEnd(_ context: TrainingContext) throws {}
    public func trainEnd(_ context: TrainingContext) throws {}
}
