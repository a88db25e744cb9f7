import Logging

/// Saves crash-safe checkpoints during ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``.
///
/// Saves at the end of every epoch (default), every `everySteps` steps, and/or every
/// `everySeconds` seconds of wall time, plus once when training ends (so a finished or
/// stopped run can be continued or inspected). With `saveBestOnly`, epoch-end saves happen
/// only when `monitor` improves, and the best value is stored in the checkpoint so it
/// survives a resume. After each successful save, `keep` bounds how many checkpoints remain
/// (the newest valid one is never deleted; nothing is pruned after a failed save).
///
/// A failed save does not stop training: it is reported through `logger` (an `error` event), recorded in
/// ``lastError`` and counted in ``failureCount``, and every existing checkpoint stays intact.
/// It is never silent at the end either: ``lastSaveFailed`` tells a caller that the newest
/// state could not be saved (the final save is retried once at `trainEnd`), so a run must
/// not be reported as cleanly finished. Set `failOnError` to make a failed save abort
/// training instead.
///
/// Non-finite guard: no checkpoint holding a NaN or infinite value is ever written. Once
/// the run has diverged (``TrainingContext/hasDiverged``, or the last step's loss is not
/// finite) nothing is saved or pruned, and ``save(_:)`` checks every tensor (parameters and
/// optimizer slots) before writing and throws ``TrainingError`` `.nonFinite` (and marks the
/// run diverged) if one holds a non-finite value. Such a refusal is not a save failure: the
/// good checkpoints on disk are the ones to keep.
///
/// With a ``CheckpointMirror``, every checkpoint written is handed to it for upload (off the
/// training thread), and `trainEnd` waits until the final checkpoint is stored
/// (``finalUpload`` tells how that went).
///
/// The work is done by a ``CheckpointManager`` (``manager``), the same one a custom loop
/// uses through ``TrainingRun``; this callback only maps `fit`'s events onto it.
///
/// With ``SpotInterruption``, register only the `SpotInterruption` (it drives this object:
/// its regular saves and the emergency save on a notice).
public final class ModelCheckpoint: Callback {
    /// The manager that decides and writes every save (shared with ``SpotInterruption``).
    public let manager: CheckpointManager
    /// Also save when training ends.
    public let saveOnTrainEnd: Bool

    /// The directory checkpoints are written to.
    public var directory: CheckpointDirectory { manager.directory }
    /// Save at the end of every epoch.
    public var everyEpoch: Bool { manager.everyEpoch }
    /// Save every this many global steps.
    public var everySteps: Int? { manager.everySteps }
    /// Save when this many seconds have passed since the last save.
    public var everySeconds: Double? { manager.everySeconds }
    /// Save at epoch ends only when `monitor` improves.
    public var saveBestOnly: Bool { manager.saveBestOnly }
    /// The metric compared by `saveBestOnly` (for example `val_accuracy`).
    public var monitor: String { manager.monitor }
    /// Whether larger (`.max`) or smaller (`.min`) is better.
    public var mode: EarlyStopping.Mode { manager.mode }
    /// Keep at most this many checkpoints (after each successful save).
    public var keep: Int? { manager.keep }
    /// Rethrow save errors (aborting training) instead of logging them.
    public var failOnError: Bool { manager.failOnError }
    /// Where checkpoints are copied after each save, if anywhere.
    public var mirror: CheckpointMirror? { manager.mirror }

    /// What became of the upload of the last checkpoint, once `trainEnd` has waited for it
    /// (nil without a mirror, or before the end).
    public var finalUpload: CheckpointMirror.UploadResult? { manager.finalUpload }
    /// The last file written successfully.
    public var lastSaved: CheckpointFile? { manager.lastSaved }
    /// The error of the last save, if it failed.
    public var lastError: Error? { manager.lastError }
    /// How long the last successful save took (capture + write + fsync), in seconds.
    public var lastSaveSeconds: Double? { manager.lastSaveSeconds }
    /// Total seconds spent saving.
    public var totalSaveSeconds: Double { manager.totalSaveSeconds }
    /// Number of successful saves.
    public var saveCount: Int { manager.saveCount }
    /// Number of saves that failed (I/O errors; refusals of a diverged state are not counted).
    public var failureCount: Int { manager.failureCount }
    /// Whether the most recent save attempt failed, so that the newest state is not on disk
    /// (``lastSaved`` is the newest good checkpoint this object wrote).
    public var lastSaveFailed: Bool { manager.lastSaveFailed }

    /// The context the manager saves from (attached at `trainBegin`, or at the first event
    /// of another run).
    private weak var attached: TrainingContext?

    /// Creates the callback and its manager.
    /// - Parameters:
    ///   - directory: Where to write.
    ///   - everyEpoch: Save at every epoch end (default `true`).
    ///   - everySteps: Also save every N global steps.
    ///   - everySeconds: Also save when T seconds have passed since the last save.
    ///   - saveBestOnly: Epoch-end saves only when `monitor` improves.
    ///   - monitor: The metric for `saveBestOnly` (default `val_loss`).
    ///   - mode: `nil` infers `.max` for accuracies, else `.min`.
    ///   - keep: Keep the newest K checkpoints.
    ///   - saveOnTrainEnd: Save when training ends (default `true`).
    ///   - failOnError: Abort training on a failed save (default `false`: log and go on).
    ///   - mirror: Copies every checkpoint written to a store (default none).
    ///   - logger: Receives warnings and errors (skipped or failed saves, failed uploads);
    ///     default: a logger labelled `spottrain.checkpoint` from the bootstrapped
    ///     `LoggingSystem`.
    public convenience init(directory: CheckpointDirectory, everyEpoch: Bool = true, everySteps: Int? = nil,
                            everySeconds: Double? = nil, saveBestOnly: Bool = false, monitor: String = "val_loss",
                            mode: EarlyStopping.Mode? = nil, keep: Int? = nil, saveOnTrainEnd: Bool = true,
                            failOnError: Bool = false, mirror: CheckpointMirror? = nil, logger: Logger? = nil) {
        self.init(manager: CheckpointManager(directory: directory, everyEpoch: everyEpoch, everySteps: everySteps,
                                             everySeconds: everySeconds, saveBestOnly: saveBestOnly, monitor: monitor,
                                             mode: mode, keep: keep, failOnError: failOnError, mirror: mirror,
                                             logger: logger),
                  saveOnTrainEnd: saveOnTrainEnd)
    }

    /// Creates the callback over an existing manager (its policies apply to `fit`'s events).
    /// - Parameters:
    ///   - manager: The manager to drive.
    ///   - saveOnTrainEnd: Save when training ends (default `true`).
    public init(manager: CheckpointManager, saveOnTrainEnd: Bool = true) {
        self.manager = manager
        self.saveOnTrainEnd = saveOnTrainEnd
    }

    /// Asked while waiting for the final upload: `nil` to go on waiting, or the seconds still
    /// allowed (``SpotInterruption`` sets it, so that a notice arriving during the final
    /// upload bounds the wait by its deadline).
    public var stopWaitingForUploads: (() -> Double?)? {
        get { manager.stopWaitingForUploads }
        set { manager.stopWaitingForUploads = newValue }
    }

    /// Points the manager at `context` unless it already is (an identity check per event).
    private func attach(_ context: TrainingContext) {
        guard attached !== context else { return }
        attached = context
        manager.attach(context)
    }

    public func trainBegin(_ context: TrainingContext) throws {
        attach(context)
        manager.markRunStart()
    }

    public func batchEnd(_ context: TrainingContext) throws {
        attach(context)
        if manager.isSaveDue(afterStep: context.globalStep) { try manager.attemptSave(reason: "step") }
    }

    public func epochEnd(_ context: TrainingContext) throws {
        attach(context)
        // The best value lives in the progress a checkpoint records (it survives a resume).
        var progress = context.progress
        let due = manager.epochEndSaveDue(logs: context.logs, progress: &progress, globalStep: context.globalStep)
        if let best = progress.best[manager.bestKey], best != context.progress.best[manager.bestKey] {
            context.setBest(manager.bestKey, best)
        }
        if due { try manager.attemptSave(reason: "epoch end") }
    }

    public func trainEnd(_ context: TrainingContext) throws {
        attach(context)
        // A best-only run keeps only improvements; the final state is saved regardless, as
        // the position to continue from.
        if !context.hasDiverged, saveOnTrainEnd, lastSaved?.globalStep != context.globalStep || lastError != nil {
            try manager.attemptSave(reason: "end")
        }
        manager.waitForFinalUpload()
    }

    /// Blocks until the mirror has stored (or failed to store) the newest checkpoint this
    /// object wrote, and records the result in ``finalUpload``. Does nothing without a
    /// mirror or a checkpoint.
    public func waitForFinalUpload() { manager.waitForFinalUpload() }

    /// Saves the current state now, durably, and prunes to `keep` on success.
    ///
    /// A diverged state is refused before anything is written: a non-finite loss of the
    /// last step, or a non-finite value in any captured tensor (an O(parameters) scan, once
    /// per save).
    /// - Parameter context: The running context.
    /// - Returns: The file written.
    /// - Throws: ``TrainingError`` `.nonFinite` for a diverged state (nothing written, the run
    ///   is marked diverged); ``CheckpointError`` if the save failed (counted in
    ///   ``failureCount``). Existing checkpoints are intact either way.
    @discardableResult
    public func save(_ context: TrainingContext) throws -> CheckpointFile {
        attach(context)
        return try manager.saveNow(reason: "requested")
    }
}
