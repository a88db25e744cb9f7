import Logging

extension CheckpointManager {
    /// Starts a custom loop's run: restores `trainer` from the newest valid checkpoint (in
    /// the mirror's store too, when there is a mirror: a newer checkpoint there is
    /// downloaded and verified first), and returns the ``TrainingRun`` that keeps the position
    /// and saves by this manager's policies. Corrupt or partial files are skipped with a
    /// warning.
    ///
    /// ``saveNow(reason:)`` saves this run from now on.
    /// - Parameters:
    ///   - trainer: The freshly built trainer (model, optimizer, generator).
    ///   - trainingCount: Training examples (a resume must use the same).
    ///   - batchSize: Examples per step (a resume must use the same).
    ///   - seed: The shuffle seed of a fresh run; a resumed run keeps its checkpoint's.
    /// - Returns: The run, positioned where training continues (``TrainingRun/resumedFrom``
    ///   says from which checkpoint).
    /// - Throws: As ``Resume/latest(from:into:batchSize:trainingCount:logger:)`` (and
    ///   ``CheckpointStoreError`` with a mirror): the newest valid checkpoint belongs to
    ///   another model or run configuration, or the directory or store cannot be read.
    public func start(trainer: Trainer, trainingCount: Int, batchSize: Int, seed: UInt64) throws -> TrainingRun {
        precondition(batchSize > 0, "CheckpointManager.start: batchSize \(batchSize) must be positive")
        precondition(trainingCount > 0, "CheckpointManager.start: trainingCount \(trainingCount) must be positive")
        let resume: ResumePoint?
        if let mirror {
            resume = try Resume.latest(from: directory, store: mirror.store, thread: mirror.thread, into: trainer,
                                       batchSize: batchSize, trainingCount: trainingCount)
        } else {
            resume = try Resume.latest(from: directory, into: trainer, batchSize: batchSize,
                                       trainingCount: trainingCount, logger: logger)
        }
        let run = TrainingRun(manager: self, trainer: trainer, batchSize: batchSize, trainingCount: trainingCount,
                              seed: resume?.seed ?? seed, resumedFrom: resume)
        attach(run)
        return run
    }

    /// Makes ``saveNow(reason:)`` and the policies save `run` (held weakly: the run holds
    /// the manager).
    func attach(_ run: TrainingRun) {
        source = CheckpointSource(
            capture: { [weak run] in
                guard let run else { preconditionFailure("CheckpointManager: the attached TrainingRun no longer exists") }
                return run.capture()
            },
            globalStep: { [weak run] in run?.globalStep ?? 0 },
            lastLoss: { [weak run] in run?.lastStep?.loss },
            hasDiverged: { [weak run] in run?.hasDiverged ?? true },
            markDiverged: { [weak run] reason in run?.markDiverged(reason) })
        markRunStart()
    }

    /// Makes ``saveNow(reason:)`` and the policies save `fit`'s running `context`.
    func attach(_ context: TrainingContext) {
        source = CheckpointSource(
            capture: {
                TrainingState.capture(trainer: context.trainer, progress: context.resumableProgress,
                                      seed: context.seed, batchSize: context.batchSize,
                                      trainingCount: context.trainingCount)
            },
            globalStep: { context.globalStep },
            lastLoss: { context.lastStep?.loss },
            hasDiverged: { context.hasDiverged },
            markDiverged: { reason in context.requestStop(.diverged, reason: reason) })
    }
}
