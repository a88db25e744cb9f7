import Logging

/// Crash-safe checkpoints for any training loop: when to save, what to keep, how to resume.
///
/// The manager owns the policies (every `everySteps` global steps, every `everySeconds`
/// seconds of wall time, at each epoch end, best-only on a monitored metric, keep the newest
/// `keep`) and the mechanics (capture, the non-finite guard, the atomic write, pruning, the
/// mirror upload). A custom loop gets a ``TrainingRun`` from ``start(trainer:trainingCount:batchSize:seed:)``,
/// which resumes from the newest valid checkpoint and keeps the position; the loop only
/// calls ``TrainingRun/recordStep(_:)`` after each step and ``TrainingRun/endEpoch(metrics:)``
/// after each epoch, and every save is then ordered exactly as in
/// ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``,
/// so a resume neither repeats nor skips a batch. ``ModelCheckpoint`` is this manager
/// adapted to `fit`'s callbacks, and ``SpotInterruption`` asks it for the emergency save
/// (``saveNow(reason:)``).
///
/// A failed save does not stop training (unless `failOnError`): it is logged, recorded in
/// ``lastError`` and counted in ``failureCount``, and every existing checkpoint stays intact;
/// ``lastSaveFailed`` tells that the newest state is not on disk. No checkpoint holding a NaN
/// or infinite value is ever written (the state is checked once per save).
///
/// With a ``CheckpointMirror``, every checkpoint written is handed to it for upload (off the
/// training thread); ``waitForFinalUpload()`` waits until the newest one is stored, and the
/// mirror applies its own `keep` in the store.
public final class CheckpointManager {
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
    /// Rethrow save errors (aborting training) instead of logging them.
    public let failOnError: Bool
    /// Where checkpoints are copied after each save, if anywhere.
    public let mirror: CheckpointMirror?

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
    /// (``lastSaved`` is the newest good checkpoint this manager wrote).
    public var lastSaveFailed: Bool { lastError != nil }
    /// What became of the upload of the newest checkpoint, once ``waitForFinalUpload()`` has
    /// waited for it (nil without a mirror, or before).
    public internal(set) var finalUpload: CheckpointMirror.UploadResult?

    /// Asked while waiting for the final upload: `nil` to go on waiting, or the seconds still
    /// allowed (``SpotInterruption`` sets it, so that a notice arriving during the final
    /// upload bounds the wait by its deadline).
    public var stopWaitingForUploads: (() -> Double?)?

    /// The run whose state ``saveNow(reason:)`` saves (a ``TrainingRun``, or `fit`'s context
    /// through ``ModelCheckpoint``).
    var source: CheckpointSource?

    let logger: Logger
    private let clock = ContinuousClock()
    private var lastSaveTime: ContinuousClock.Instant?

    /// Creates a manager.
    /// - Parameters:
    ///   - directory: Where to write.
    ///   - everyEpoch: Save at every epoch end (default `true`).
    ///   - everySteps: Also save every N global steps.
    ///   - everySeconds: Also save when T seconds have passed since the last save.
    ///   - saveBestOnly: Epoch-end saves only when `monitor` improves.
    ///   - monitor: The metric for `saveBestOnly` (default `val_loss`).
    ///   - mode: `nil` infers `.max` for accuracies, else `.min`.
    ///   - keep: Keep the newest K checkpoints.
    ///   - failOnError: Abort training on a failed save (default `false`: log and go on).
    ///   - mirror: Copies every checkpoint written to a store (default none).
    ///   - logger: Receives warnings and errors (skipped or failed saves, failed uploads);
    ///     default: a logger labelled `spottrain.checkpoint` from the bootstrapped
    ///     `LoggingSystem`.
    public init(directory: CheckpointDirectory, everyEpoch: Bool = true, everySteps: Int? = nil,
                everySeconds: Double? = nil, saveBestOnly: Bool = false, monitor: String = "val_loss",
                mode: EarlyStopping.Mode? = nil, keep: Int? = nil, failOnError: Bool = false,
                mirror: CheckpointMirror? = nil, logger: Logger? = nil) {
        precondition(everySteps.map { $0 > 0 } ?? true, "CheckpointManager: everySteps \(everySteps ?? 0) must be positive")
        precondition(everySeconds.map { $0 > 0 } ?? true, "CheckpointManager: everySeconds \(everySeconds ?? 0) must be positive")
        precondition(keep.map { $0 > 0 } ?? true, "CheckpointManager: keep \(keep ?? 0) must be positive")
        self.directory = directory
        self.everyEpoch = everyEpoch
        self.everySteps = everySteps
        self.everySeconds = everySeconds
        self.saveBestOnly = saveBestOnly
        self.monitor = monitor
        self.mode = mode ?? (monitor.contains("accuracy") ? .max : .min)
        self.keep = keep
        self.failOnError = failOnError
        self.mirror = mirror
        self.logger = logger ?? Logger(label: Logger.SpotTrainLabel.checkpoint)
    }

    /// The key of the best monitored value in ``TrainingProgress/best`` (it survives a resume).
    public var bestKey: String { "ModelCheckpoint.\(monitor)" }

    // MARK: Policies

    /// Starts the wall-time interval of `everySeconds` (called when a run begins).
    func markRunStart() { lastSaveTime = clock.now }

    /// Whether a step-based or time-based save is due after global step `globalStep`.
    /// - Parameter globalStep: Batches trained since the run began.
    /// - Returns: `true` if the `everySteps` or `everySeconds` policy asks for a save now.
    public func isSaveDue(afterStep globalStep: Int) -> Bool {
        if let every = everySteps, globalStep % every == 0 { return true }
        if let seconds = everySeconds, let last = lastSaveTime, last.duration(to: clock.now).seconds >= seconds { return true }
        return false
    }

    /// Decides whether the epoch that just ended is saved, and with `saveBestOnly` records a
    /// new best value in `progress.best` (under ``bestKey``) when the monitored metric improved.
    /// - Parameters:
    ///   - logs: The epoch's metrics (`loss`, `val_accuracy`, …).
    ///   - progress: The progress whose best values are compared and updated.
    ///   - globalStep: The global step, for the log event when the metric is missing.
    /// - Returns: `true` if a checkpoint should be written now.
    func epochEndSaveDue(logs: [String: Double], progress: inout TrainingProgress, globalStep: Int) -> Bool {
        guard everyEpoch else { return false }
        guard saveBestOnly else { return true }
        guard let value = logs[monitor], value.isFinite else {
            logger.warning("ModelCheckpoint cannot monitor '\(monitor)': not in the logs; not saving",
                           metadata: ["monitor": "\(monitor)", "step": "\(globalStep)"])
            return false
        }
        let improved = progress.best[bestKey].map { mode == .max ? value > $0 : value < $0 } ?? true
        if improved { progress.best[bestKey] = value }
        return improved
    }

    // MARK: Saving

    /// Saves the attached run's current state now, durably (temp file, fsync, rename, fsync
    /// the directory), prunes to `keep` on success and hands the file to the mirror.
    ///
    /// ``SpotInterruption`` calls this for its emergency save; a custom loop may call it
    /// whenever it likes (for example from its own interruption handling). A diverged state
    /// is refused before anything is written: a non-finite loss of the last step, or a
    /// non-finite value in any captured tensor (an O(parameters) scan, once per save).
    /// - Parameter reason: Why (`interruption`, `rebalance`, `user`, …), for the log.
    /// - Returns: The file written.
    /// - Throws: ``TrainingError`` `.nonFinite` for a diverged state (nothing written, the run
    ///   is marked diverged); ``CheckpointError`` if the save failed (counted in
    ///   ``failureCount``). Existing checkpoints are intact either way.
    @discardableResult
    public func saveNow(reason: String) throws -> CheckpointFile {
        guard let source else {
            preconditionFailure("CheckpointManager.saveNow(reason: \(reason)): no run is attached; "
                                + "call start(trainer:trainingCount:batchSize:seed:) or register a ModelCheckpoint first")
        }
        logger.debug("saving checkpoint", metadata: ["reason": "\(reason)", "step": "\(source.globalStep())"])
        return try save(source)
    }

    /// A save driven by a policy: logs failures instead of throwing them (unless
    /// `failOnError`) and refuses a diverged state quietly apart from one `error` event.
    /// - Throws: The save error, only with `failOnError`.
    func attemptSave(reason: String) throws {
        guard let source, !source.hasDiverged() else { return }
        do {
            _ = try save(source)
        } catch let error as TrainingError where error.code == .nonFinite {
            logger.error("not saving a diverged state, previous checkpoints kept: \(error)",
                         metadata: Logger.Metadata.describing(error).merging(["step": "\(source.globalStep())"]))
        } catch {
            logger.error("checkpoint save failed, previous checkpoints kept: \(error)",
                         metadata: Logger.Metadata.describing(error).merging(
                             ["step": "\(source.globalStep())", "directory": "\(directory.path)", "reason": "\(reason)"]))
            if failOnError { throw error }
        }
    }

    private func save(_ source: CheckpointSource) throws -> CheckpointFile {
        let start = clock.now
        let step = source.globalStep()
        if let loss = source.lastLoss(), !loss.isFinite {
            let error = TrainingError(.nonFinite, "the loss of step \(step) is \(loss); not saving")
            source.markDiverged(error.message)
            throw error
        }
        let checkpoint = source.capture()
        if let bad = checkpoint.firstNonFiniteValue() {
            let error = TrainingError(.nonFinite, "tensor '\(bad.tensor)' holds \(bad.value) at element \(bad.index) "
                                      + "at step \(step); not saving")
            source.markDiverged(error.message)
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

/// What the manager saves from: closures over a running loop's state (a ``TrainingRun`` or
/// `fit`'s ``TrainingContext``).
struct CheckpointSource {
    /// The checkpoint of the state now.
    var capture: () -> Checkpoint
    /// The global step now.
    var globalStep: () -> Int
    /// The loss of the last step, if there was one.
    var lastLoss: () -> Float?
    /// Whether the run has diverged (nothing is saved then).
    var hasDiverged: () -> Bool
    /// Marks the run diverged, with the reason.
    var markDiverged: (String) -> Void
}
