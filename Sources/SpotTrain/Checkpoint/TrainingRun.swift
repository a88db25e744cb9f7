/// A custom training loop's position and checkpoints: everything `fit` keeps for a run, so
/// the loop keeps no bookkeeping by hand.
///
/// Get one from ``CheckpointManager/start(trainer:trainingCount:batchSize:seed:)``: it has
/// already resumed the trainer from the newest valid checkpoint, if there is one, and
/// ``epoch``, ``stepInEpoch`` and ``globalStep`` say where to continue. The loop trains the
/// batch ``sampler`` gives for that position, then calls ``recordStep(_:)``; after an epoch's
/// last batch it calls ``endEpoch(metrics:)``; at the end, ``finish()``. The manager saves
/// when its policies say so, at the same points and with the same recorded position as
/// ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``:
/// a checkpoint written at an epoch end already points at the next epoch, so a resume
/// neither repeats nor skips a batch, and the result is bit for bit that of an
/// uninterrupted run.
///
/// ```swift
/// let run = try manager.start(trainer: trainer, trainingCount: train.count, batchSize: 64, seed: 1)
/// while run.epoch < epochs {
///     while run.stepInEpoch < run.sampler.batchesPerEpoch {
///         train.gather(run.sampler.indices(epoch: run.epoch, batch: run.stepInEpoch), into: batch)
///         try run.recordStep(trainer.trainStep(batch))
///     }
///     try run.endEpoch()
/// }
/// try run.finish()
/// ```
public final class TrainingRun {
    /// The manager that saves this run's checkpoints.
    public let manager: CheckpointManager
    /// The trainer being trained.
    public let trainer: Trainer
    /// Examples per step (the data order depends on it).
    public let batchSize: Int
    /// Training examples.
    public let trainingCount: Int
    /// The shuffle seed: the checkpoint's after a resume, else the one given to `start`.
    public let seed: UInt64
    /// The data order of the run: batch `b` of epoch `e` is `sampler.indices(epoch: e, batch: b)`.
    public let sampler: BatchSampler
    /// Where the run resumed from, or `nil` for a fresh start.
    public let resumedFrom: ResumePoint?

    /// The position, running sums, history and best values, as a checkpoint records them.
    public private(set) var progress: TrainingProgress
    /// The result of the latest recorded step.
    public private(set) var lastStep: StepResult?
    /// Whether a step's loss was not finite: nothing is saved from such a state.
    public private(set) var hasDiverged = false
    /// Why the run diverged, once it has.
    public private(set) var divergenceReason: String?

    private let clock = ContinuousClock()
    private var lastRecord: ContinuousClock.Instant

    init(manager: CheckpointManager, trainer: Trainer, batchSize: Int, trainingCount: Int, seed: UInt64,
         resumedFrom: ResumePoint?) {
        self.manager = manager
        self.trainer = trainer
        self.batchSize = batchSize
        self.trainingCount = trainingCount
        self.seed = seed
        self.sampler = BatchSampler(count: trainingCount, batchSize: batchSize, seed: seed)
        self.resumedFrom = resumedFrom
        self.progress = resumedFrom?.progress ?? TrainingProgress()
        self.lastRecord = clock.now
    }

    /// The current epoch (from 0).
    public var epoch: Int { progress.epoch }
    /// Batches of the current epoch already trained: the next batch to train is this one.
    public var stepInEpoch: Int { progress.stepInEpoch }
    /// Batches trained since the run began.
    public var globalStep: Int { progress.globalStep }
    /// The current epoch's mean training loss so far (`nil` before its first step).
    public var epochLoss: Double? { progress.epochSeen > 0 ? progress.epochLossSum / Double(progress.epochSeen) : nil }
    /// The current epoch's training accuracy so far (`nil` before its first step).
    public var epochAccuracy: Double? {
        progress.epochSeen > 0 ? Double(progress.epochCorrect) / Double(progress.epochSeen) : nil
    }

    /// Records one trained batch, then saves if the manager's `everySteps` or `everySeconds`
    /// policy is due.
    /// - Parameter result: What ``Trainer/trainStep(_:)`` returned.
    /// - Throws: ``TrainingError`` `.nonFinite` when the loss is not finite (the run has
    ///   diverged: nothing is saved from now on, the checkpoints on disk are the ones to
    ///   keep); a save error only with the manager's `failOnError`.
    public func recordStep(_ result: StepResult) throws {
        try recordStep(loss: result.loss, correct: result.correct, count: result.count)
    }

    /// Records one trained batch from its numbers, then saves if a step or time policy is due.
    /// - Parameters:
    ///   - loss: The batch's mean loss.
    ///   - correct: Correct predictions in the batch.
    ///   - count: Examples in the batch.
    /// - Throws: As ``recordStep(_:)``.
    public func recordStep(loss: Float, correct: Int, count: Int) throws {
        precondition(count >= 0 && correct >= 0 && correct <= count,
                     "TrainingRun.recordStep: correct \(correct) and count \(count) must satisfy 0 <= correct <= count")
        precondition(progress.stepInEpoch < sampler.batchesPerEpoch,
                     "TrainingRun.recordStep: epoch \(progress.epoch + 1) already has its \(sampler.batchesPerEpoch) batches; call endEpoch()")
        let now = clock.now
        progress.trainingSeconds += lastRecord.duration(to: now).seconds
        lastRecord = now
        progress.trainingSamples += count
        progress.stepInEpoch += 1
        progress.globalStep += 1
        progress.epochLossSum += Double(loss) * Double(count)
        progress.epochCorrect += correct
        progress.epochSeen += count
        lastStep = StepResult(loss: loss, correct: correct, count: count)
        if !loss.isFinite {
            let reason = "the loss of step \(progress.globalStep) (epoch \(progress.epoch + 1), batch \(progress.stepInEpoch)) is \(loss)"
            markDiverged(reason)
            throw TrainingError(.nonFinite, reason + "; not saving")
        }
        if manager.isSaveDue(afterStep: progress.globalStep) { try manager.attemptSave(reason: "step") }
    }

    /// Ends the current epoch: appends its record (`loss`, `accuracy`, `epoch` and
    /// `metrics`) to the history, moves the position to the start of the next epoch, and
    /// saves if the epoch-end policy (or best-only on `monitor`) says so. The checkpoint
    /// records the next epoch as the position, exactly as `fit` does.
    /// - Parameter metrics: Further metrics of the epoch (for example `val_loss`,
    ///   `val_accuracy`), compared by best-only saving.
    /// - Returns: The epoch's record, as appended to ``TrainingProgress/history``.
    /// - Throws: A save error only with the manager's `failOnError`.
    @discardableResult
    public func endEpoch(metrics: [String: Double] = [:]) throws -> [String: Double] {
        var record = progress.history.last ?? [:]
        if let loss = epochLoss { record["loss"] = loss }
        if let accuracy = epochAccuracy { record["accuracy"] = accuracy }
        record.merge(metrics) { _, new in new }
        record["epoch"] = Double(progress.epoch + 1)
        progress.history.append(record)
        progress.epoch += 1
        progress.stepInEpoch = 0
        progress.epochLossSum = 0
        progress.epochCorrect = 0
        progress.epochSeen = 0
        if !hasDiverged, manager.epochEndSaveDue(logs: record, progress: &progress, globalStep: progress.globalStep) {
            try manager.attemptSave(reason: "epoch end")
        }
        return record
    }

    /// Ends the run: saves the final state unless it is already on disk (or the run
    /// diverged), then waits for the mirror to store the newest checkpoint.
    /// - Returns: The newest checkpoint holding the final state, or `nil` if it could not be
    ///   saved (see ``CheckpointManager/lastSaveFailed``).
    /// - Throws: A save error only with the manager's `failOnError`.
    @discardableResult
    public func finish() throws -> CheckpointFile? {
        let newest = manager.lastSaved ?? resumedFrom?.file
        if !hasDiverged, newest?.globalStep != progress.globalStep || manager.lastSaveFailed {
            try manager.attemptSave(reason: "end")
        }
        manager.waitForFinalUpload()
        let last = manager.lastSaved ?? resumedFrom?.file
        return !hasDiverged && !manager.lastSaveFailed && last?.globalStep == progress.globalStep ? last : nil
    }

    /// The checkpoint of the state now.
    func capture() -> Checkpoint {
        TrainingState.capture(trainer: trainer, progress: progress, seed: seed, batchSize: batchSize,
                              trainingCount: trainingCount)
    }

    func markDiverged(_ reason: String) {
        if !hasDiverged { divergenceReason = reason }
        hasDiverged = true
    }
}
