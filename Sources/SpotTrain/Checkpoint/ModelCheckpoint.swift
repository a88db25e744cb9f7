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
/// With ``SpotInterruption``, register only the `SpotInterruption` (it drives this object:
/// its regular saves and the emergency save on a notice).
public final class ModelCheckpoint: Callback {
    /// The directory checkpoints are written to.
    public let directory: CheckpointDirectory
    /// Save at the end of every epoch.
    public let everyEpoch: Bool
    /// Save every this many global steps.
    public let everySteps: Int?
    /// Save when this many seconds have passed since the last save.
    public let everySeconds: Double?
    /// Save at epoch ends only when `monitor` improves.
    public let saveBestOnly: Bool
    /// The metric compared by `saveBestOnly` (for example `val_accuracy`).
    public let monitor: String
    /// Whether larger (`.max`) or smaller (`.min`) is better.
    public let mode: EarlyStopping.Mode
    /// Keep at most this many checkpoints (after each successful save).
    public let keep: Int?
    /// Also save when training ends.
    public let saveOnTrainEnd: Bool
    /// Rethrow save errors (aborting training) instead of logging them.
    public let failOnError: Bool
    /// Where checkpoints are copied after each save, if anywhere.
    public let mirror: CheckpointMirror?

    /// What became of the upload of the last checkpoint, once `trainEnd` has waited for it
    /// (nil without a mirror, or before the end).
    public private(set) var finalUpload: CheckpointMirror.UploadResult?

    /// The last file written successfully.
    public private(set) var lastSaved: CheckpointFile?
    /// The error of the last save, if it failed.
    public private(set) var lastError: Error?
    /// How long the last successful save took (capture + write + fsync), in seconds.
    public private(set) var lastSaveSeconds: Double?
    /// Total seconds spent saving.
    public private(set) var totalSaveSeconds = 0.0
    /// Number of successful saves.
    public private(set) var saveCount = 0
    /// Number of saves that failed (I/O errors; refusals of a diverged state are not counted).
    public private(set) var failureCount = 0
    /// Whether the most recent save attempt failed, so that the newest state is not on disk
    /// (``lastSaved`` is the newest good checkpoint this object wrote).
    public var lastSaveFailed: Bool { lastError != nil }

    private let logger: Logger
    private let clock = ContinuousClock()
    private var lastSaveTime: ContinuousClock.Instant?

    /// Creates the callback.
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
    public init(directory: CheckpointDirectory, everyEpoch: Bool = true, everySteps: Int? = nil,
                everySeconds: Double? = nil, saveBestOnly: Bool = false, monitor: String = "val_loss",
                mode: EarlyStopping.Mode? = nil, keep: Int? = nil, saveOnTrainEnd: Bool = true,
                failOnError: Bool = false, mirror: CheckpointMirror? = nil, logger: Logger? = nil) {
        precondition(everySteps == nil || everySteps! > 0, "ModelCheckpoint: everySteps must be positive")
        precondition(everySeconds == nil || everySeconds! > 0, "ModelCheckpoint: everySeconds must be positive")
        precondition(keep == nil || keep! > 0, "ModelCheckpoint: keep must be positive")
        self.directory = directory
        self.everyEpoch = everyEpoch
        self.everySteps = everySteps
        self.everySeconds = everySeconds
        self.saveBestOnly = saveBestOnly
        self.monitor = monitor
        self.mode = mode ?? (monitor.contains("accuracy") ? .max : .min)
        self.keep = keep
        self.saveOnTrainEnd = saveOnTrainEnd
        self.failOnError = failOnError
        self.mirror = mirror
        self.logger = logger ?? Logger(label: Logger.SpotTrainLabel.checkpoint)
    }

    private var bestKey: String { "ModelCheckpoint.\(monitor)" }

    public func trainBegin(_ context: TrainingContext) throws {
        lastSaveTime = clock.now
    }

    public func batchEnd(_ context: TrainingContext) throws {
        var due = false
        if let every = everySteps, context.globalStep % every == 0 { due = true }
        if let seconds = everySeconds, let last = lastSaveTime, last.duration(to: clock.now).seconds >= seconds { due = true }
        if due { try attemptSave(context) }
    }

    public func epochEnd(_ context: TrainingContext) throws {
        guard everyEpoch else { return }
        if saveBestOnly {
            guard let value = context.logs[monitor], value.isFinite else {
                logger.warning("ModelCheckpoint cannot monitor '\(monitor)': not in the logs; not saving",
                               metadata: ["monitor": "\(monitor)", "step": "\(context.globalStep)"])
                return
            }
            let best = context.progress.best[bestKey]
            let improved = best.map { mode == .max ? value > $0 : value < $0 } ?? true
            guard improved else { return }
            context.setBest(bestKey, value)
        }
        try attemptSave(context)
    }

    public func trainEnd(_ context: TrainingContext) throws {
        // A best-only run keeps only improvements; the final state is saved regardless, as
        // the position to continue from.
        if !context.hasDiverged, saveOnTrainEnd, lastSaved?.globalStep != context.globalStep || lastError != nil {
            try attemptSave(context)
        }
        waitForFinalUpload()
    }

    /// Blocks until the mirror has stored (or failed to store) the newest checkpoint this
    /// object wrote, and records the result in ``finalUpload``. Does nothing without a
    /// mirror or a checkpoint.
    public func waitForFinalUpload() {
        guard let mirror, let last = lastSaved else { return }
        var result = waitForUpload(of: last, mirror: mirror)
        if case .failed = result, !mirror.statistics.lastFailureRefused {
            // The last chance to get the newest state into the store: once more, from scratch.
            logger.warning("the upload of the final checkpoint \(last.name) failed; trying once more",
                           metadata: ["checkpoint": "\(last.name)", "step": "\(last.globalStep)"])
            mirror.enqueue(last)
            result = waitForUpload(of: last, mirror: mirror)
        }
        if case .uploaded = result { mirror.drain(timeout: 60) }
        finalUpload = result
        if case .failed(let reason) = result {
            logger.error("the final checkpoint \(last.path) is not in \(mirror.store.location): \(reason)",
                         metadata: ["path": "\(last.path)", "step": "\(last.globalStep)",
                                    "location": "\(mirror.store.location)"])
        }
    }

    /// Waits for `file`'s upload in slices of half a second, giving up early when
    /// ``stopWaitingForUploads`` says so (an interruption arrived during the final wait).
    private func waitForUpload(of file: CheckpointFile, mirror: CheckpointMirror) -> CheckpointMirror.UploadResult {
        while true {
            let result = mirror.wait(for: file, timeout: 0.5)
            guard result == .timedOut else { return result }
            if let limit = stopWaitingForUploads?() { return mirror.wait(for: file, timeout: limit) }
        }
    }

    /// Asked while waiting for the final upload: `nil` to go on waiting, or the seconds still
    /// allowed (``SpotInterruption`` sets it, so that a notice arriving during the final
    /// upload bounds the wait by its deadline).
    public var stopWaitingForUploads: (() -> Double?)?

    private func attemptSave(_ context: TrainingContext) throws {
        guard !context.hasDiverged else { return }
        do {
            try save(context)
        } catch let error as TrainingError where error.code == .nonFinite {
            logger.error("not saving a diverged state, previous checkpoints kept: \(error)",
                         metadata: Logger.Metadata.describing(error).merging(["step": "\(context.globalStep)"]))
        } catch {
            logger.error("checkpoint save failed, previous checkpoints kept: \(error)",
                         metadata: Logger.Metadata.describing(error).merging(
                             ["step": "\(context.globalStep)", "directory": "\(directory.path)"]))
            if failOnError { throw error }
        }
    }

    /// Saves the current state now, durably, and prunes to `keep` on success.
    ///
    /// ``SpotInterruption`` calls this for its emergency save.
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
        let start = clock.now
        if let loss = context.lastStep?.loss, !loss.isFinite {
            let error = TrainingError(.nonFinite, "the loss of step \(context.globalStep) is \(loss); not saving")
            context.requestStop(.diverged, reason: error.message)
            throw error
        }
        let checkpoint = TrainingState.capture(trainer: context.trainer, progress: context.resumableProgress,
                                               seed: context.seed, batchSize: context.batchSize,
                                               trainingCount: context.trainingCount)
        if let bad = checkpoint.firstNonFiniteValue() {
            let error = TrainingError(.nonFinite, "tensor '\(bad.tensor)' holds \(bad.value) at element \(bad.index) "
                                      + "at step \(context.globalStep); not saving")
            context.requestStop(.diverged, reason: error.message)
            throw error
        }
        let file: CheckpointFile
        do {
            file = try directory.save(checkpoint)
        } catch {
            lastError = error
            failureCount += 1
            throw error
        }
        let seconds = start.duration(to: clock.now).seconds
        lastSaved = file
        lastError = nil
        lastSaveSeconds = seconds
        totalSaveSeconds += seconds
        saveCount += 1
        lastSaveTime = clock.now
        mirror?.enqueue(file)
        if let keep {
            do {
                _ = try directory.prune(keep: keep, protecting: file)
            } catch {
                logger.warning("could not prune old checkpoints: \(error)",
                               metadata: Logger.Metadata.describing(error).merging(["directory": "\(directory.path)"]))
            }
        }
        return file
    }
}
