/// What ``Resume/latest(from:into:batchSize:trainingCount:log:)`` found.
public struct ResumePoint {
    /// The checkpoint file resumed from.
    public var file: CheckpointFile
    /// The progress to pass to `fit(resumeFrom:)`.
    public var progress: TrainingProgress
    /// The shuffle seed the run was started with (use it, not a new one).
    public var seed: UInt64
    /// Newer files that were skipped, and why.
    public var skipped: [SkippedCheckpoint]
}

/// Resuming from the newest good checkpoint in a directory.
public enum Resume {
    /// Scans `directory`, verifies candidates newest first, skips corrupt or partial files
    /// (logging one warning per file with the reason), and restores the newest good one into
    /// `trainer`: parameters, optimizer state, generator state and position.
    ///
    /// - Parameters:
    ///   - directory: The checkpoint directory (it need not exist).
    ///   - trainer: The freshly built trainer to restore into.
    ///   - batchSize: The run's batch size (must match the checkpoint's).
    ///   - trainingCount: The run's number of training examples (must match).
    ///   - log: Receives warnings (default: standard error).
    /// - Returns: Where the run resumes, or `nil` when there is no valid checkpoint (start fresh).
    /// - Throws: ``CheckpointError`` when the directory cannot be read, or when the newest
    ///   valid checkpoint belongs to another model or run configuration (named in the error:
    ///   starting fresh silently would discard that run).
    public static func latest(from directory: CheckpointDirectory, into trainer: Trainer,
                              batchSize: Int? = nil, trainingCount: Int? = nil,
                              log: ((String) -> Void)? = nil) throws -> ResumePoint? {
        let log = log ?? { writeToStandardError("spottrain: " + $0 + "\n") }
        let scan = try directory.latestValid()
        for skipped in scan.skipped {
            log("warning: skipping checkpoint \(skipped.file.path): \(skipped.reason)")
        }
        guard let latest = scan.latest else { return nil }
        let progress = try TrainingState.restore(latest.checkpoint, into: trainer, batchSize: batchSize,
                                                 trainingCount: trainingCount, path: latest.file.path)
        return ResumePoint(file: latest.file, progress: progress, seed: latest.checkpoint.metadata.shuffleSeed,
                           skipped: scan.skipped)
    }
}
