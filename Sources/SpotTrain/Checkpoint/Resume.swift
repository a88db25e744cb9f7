import Logging

/// What ``Resume/latest(from:into:batchSize:trainingCount:logger:)`` found.
public struct ResumePoint {
    /// A hyperparameter of the trainer's optimizer that the checkpoint's value replaced.
    public struct ReplacedHyperparameter: Sendable, Equatable {
        /// The name, as in ``OptimizerState/hyperparameters`` (`learningRate`, `beta1`, …).
        public var name: String
        /// The value the optimizer was configured with before the resume (`nil` if it had none).
        public var configured: Double?
        /// The value restored from the checkpoint, now in effect.
        public var restored: Double?
    }

    /// The checkpoint file resumed from.
    public var file: CheckpointFile
    /// The progress to pass to `fit(resumeFrom:)`.
    public var progress: TrainingProgress
    /// The shuffle seed the run was started with (use it, not a new one).
    public var seed: UInt64
    /// The batch size the checkpoint was written with (the data order depends on it).
    public var batchSize: Int
    /// The number of training examples the checkpoint was written for.
    public var trainingCount: Int
    /// The optimizer hyperparameters whose configured values differed from the checkpoint's
    /// and were replaced by them, sorted by name. Set them again on
    /// ``Trainer/optimizer`` after the resume to override the checkpoint (for example a new
    /// learning rate); resuming stays exact with respect to everything else.
    public var replacedHyperparameters: [ReplacedHyperparameter]
    /// Newer files that were skipped, and why.
    public var skipped: [SkippedCheckpoint]
    /// Where the checkpoint was downloaded from (`s3://BUCKET/PREFIX/NAME`), when it came
    /// from a ``CheckpointStore`` rather than the local directory (``file`` is then the
    /// verified local copy).
    public var downloadedFrom: String? = nil

    /// Where the checkpoint was read from, for summaries: ``downloadedFrom``, else the file's path.
    public var source: String { downloadedFrom ?? file.path }
}

/// Resuming from the newest good checkpoint in a directory.
public enum Resume {
    /// Scans `directory`, verifies candidates newest first, skips corrupt or partial files
    /// (logging one warning per file with the reason), and restores the newest good one into
    /// `trainer`: parameters, optimizer state (including its hyperparameters: see
    /// ``ResumePoint/replacedHyperparameters``), generator state and position.
    ///
    /// - Parameters:
    ///   - directory: The checkpoint directory (it need not exist).
    ///   - trainer: The freshly built trainer to restore into.
    ///   - batchSize: The run's batch size (must match the checkpoint's); `nil` accepts the
    ///     checkpoint's (``ResumePoint/batchSize``).
    ///   - trainingCount: The run's number of training examples (must match); `nil` accepts
    ///     the checkpoint's (``ResumePoint/trainingCount``).
    ///   - logger: Receives a `warning` per skipped file and a `notice` per optimizer
    ///     hyperparameter the checkpoint replaced; default: a logger labelled
    ///     `spottrain.checkpoint` from the bootstrapped `LoggingSystem`.
    /// - Returns: Where the run resumes, or `nil` when there is no valid checkpoint (start fresh).
    /// - Throws: ``CheckpointError`` when the directory cannot be read, or when the newest
    ///   valid checkpoint belongs to another model or run configuration (named in the error:
    ///   starting fresh silently would discard that run).
    public static func latest(from directory: CheckpointDirectory, into trainer: Trainer,
                              batchSize: Int? = nil, trainingCount: Int? = nil,
                              logger: Logger? = nil) throws -> ResumePoint? {
        let logger = logger ?? Logger(label: Logger.SpotTrainLabel.checkpoint)
        let scan = try directory.latestValid()
        for skipped in scan.skipped {
            logger.warning("skipping checkpoint \(skipped.file.path): \(skipped.reason)",
                           metadata: Logger.Metadata.describing(skipped.reason).merging(
                               ["path": "\(skipped.file.path)", "step": "\(skipped.file.globalStep)"]))
        }
        guard let latest = scan.latest else { return nil }
        var point = try restore(latest.checkpoint, of: latest.file, into: trainer, batchSize: batchSize,
                                trainingCount: trainingCount, logger: logger)
        point.skipped = scan.skipped
        return point
    }

    /// Restores a checkpoint that is already read and verified (for example received from
    /// another process of a data-parallel run) into `trainer`, as
    /// ``latest(from:into:batchSize:trainingCount:logger:)`` does with the newest good file.
    ///
    /// - Parameters:
    ///   - checkpoint: The decoded checkpoint (``CheckpointReader/decode(_:path:)``).
    ///   - file: The file it was read from (for messages and ``ResumePoint/file``).
    ///   - trainer: The freshly built trainer to restore into.
    ///   - batchSize: The run's batch size (must match), `nil` accepts the checkpoint's.
    ///   - trainingCount: The run's number of training examples (must match), `nil` accepts
    ///     the checkpoint's.
    ///   - logger: Receives a `notice` per optimizer hyperparameter the checkpoint replaced.
    /// - Returns: Where the run resumes.
    /// - Throws: ``CheckpointError`` when the checkpoint belongs to another model or run
    ///   configuration, or lacks a training state.
    public static func restore(_ checkpoint: Checkpoint, of file: CheckpointFile, into trainer: Trainer,
                               batchSize: Int? = nil, trainingCount: Int? = nil, logger: Logger? = nil) throws -> ResumePoint {
        let logger = logger ?? Logger(label: Logger.SpotTrainLabel.checkpoint)
        let latest = (checkpoint: checkpoint, file: file)
        let configured = trainer.optimizer.exportState().hyperparameters
        let progress = try TrainingState.restore(latest.checkpoint, into: trainer, batchSize: batchSize,
                                                 trainingCount: trainingCount, path: latest.file.path)
        let restored = trainer.optimizer.exportState().hyperparameters
        let replaced = Set(configured.keys).union(restored.keys).sorted().compactMap { name in
            configured[name] == restored[name]
                ? nil : ResumePoint.ReplacedHyperparameter(name: name, configured: configured[name], restored: restored[name])
        }
        for change in replaced {
            let was = change.configured.map { "\($0)" } ?? "none"
            let now = change.restored.map { "\($0)" } ?? "none"
            logger.notice("resume: the optimizer's \(change.name) is \(now) from checkpoint \(latest.file.name) (it was configured as \(was))",
                          metadata: ["hyperparameter": "\(change.name)", "configured": "\(was)", "restored": "\(now)",
                                     "path": "\(latest.file.path)"])
        }
        // restore() has checked that the checkpoint has a valid training state.
        let state = latest.checkpoint.metadata.trainingState
        return ResumePoint(file: latest.file, progress: progress, seed: state?.seed ?? 0,
                           batchSize: state?.batchSize ?? 0, trainingCount: state?.trainingCount ?? 0,
                           replacedHyperparameters: replaced, skipped: [])
    }
}
