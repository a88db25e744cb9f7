extension TrainingState {
    /// Checks the values of a state against their ranges and against the position they
    /// describe, so that a CRC-valid file with an impossible value is reported by
    /// verification (and skipped by resume) instead of trapping the trainer.
    ///
    /// With `M` = ``CheckpointMetadata/maximumCount``, `B` the batch size, `N` the training
    /// count and `S = ⌈N / B⌉` the steps per epoch:
    /// - `B` and `N` are in `1...M`; `epoch`, `step_in_epoch`, `global_step`,
    ///   `epoch_correct`, `epoch_seen`, `training_samples`, the optimizer's step and every
    ///   EarlyStopping `wait` are in `0...M`;
    /// - `step_in_epoch ≤ S` and `global_step = epoch × S + step_in_epoch`;
    /// - `epoch_seen = min(step_in_epoch × B, N)`;
    /// - `epoch_correct ≤ epoch_seen ≤ training_samples ≤ global_step × B`;
    /// - the optimizer's step is at most `global_step`;
    /// - `training_seconds` is finite and non-negative.
    /// - Parameter path: The file, for errors.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/invalidMetadata``
    ///   naming the key (`training_state.<key>`) and its value.
    public func validate(path: String? = nil) throws {
        func fail(_ message: String) -> CheckpointError {
            CheckpointError(.invalidMetadata, "training_state: " + message, path: path)
        }
        let maximum = CheckpointMetadata.maximumCount
        func check(_ key: String, _ value: Int, minimum: Int = 0) throws {
            guard value >= minimum, value <= maximum else {
                throw fail("'\(key)' is \(value), outside \(minimum)...\(maximum)")
            }
        }
        let p = progress
        try check("batch_size", batchSize, minimum: 1)
        try check("training_count", trainingCount, minimum: 1)
        try check("epoch", p.epoch)
        try check("step_in_epoch", p.stepInEpoch)
        try check("global_step", p.globalStep)
        try check("epoch_correct", p.epochCorrect)
        try check("epoch_seen", p.epochSeen)
        try check("training_samples", p.trainingSamples)
        try check("optimizer.step", optimizer.step)
        for entry in CallbackState(p.best).earlyStopping {
            if let wait = entry.wait { try check("callbacks.early_stopping[\(entry.monitor)].wait", wait) }
        }
        guard p.trainingSeconds.isFinite, p.trainingSeconds >= 0 else {
            throw fail("'training_seconds' is \(p.trainingSeconds), not a finite duration")
        }
        // Every value is at most 2^48; products of two of them are checked for overflow.
        let count = trainingCount
        let stepsPerEpoch = count / batchSize + (count % batchSize == 0 ? 0 : 1)
        guard p.stepInEpoch <= stepsPerEpoch else {
            throw fail("step_in_epoch \(p.stepInEpoch) exceeds the \(stepsPerEpoch) steps of an epoch (\(count) examples, batch size \(batchSize))")
        }
        let (epochSteps, epochOverflow) = p.epoch.multipliedReportingOverflow(by: stepsPerEpoch)
        guard !epochOverflow, epochSteps == p.globalStep - p.stepInEpoch else {
            throw fail("global_step \(p.globalStep) is not epoch \(p.epoch) × \(stepsPerEpoch) steps + step_in_epoch \(p.stepInEpoch)")
        }
        let expectedSeen = min(p.stepInEpoch * batchSize, count)
        guard p.epochSeen == expectedSeen else {
            throw fail("'epoch_seen' is \(p.epochSeen), but \(p.stepInEpoch) steps of batch size \(batchSize) see \(expectedSeen) examples")
        }
        guard p.epochCorrect <= p.epochSeen else {
            throw fail("'epoch_correct' \(p.epochCorrect) exceeds 'epoch_seen' \(p.epochSeen)")
        }
        let (allSeen, samplesOverflow) = p.globalStep.multipliedReportingOverflow(by: batchSize)
        guard p.trainingSamples >= p.epochSeen, samplesOverflow || p.trainingSamples <= allSeen else {
            throw fail("'training_samples' is \(p.trainingSamples), outside \(p.epochSeen)...\(allSeen)")
        }
        guard optimizer.step <= p.globalStep else {
            throw fail("the optimizer's step \(optimizer.step) exceeds global_step \(p.globalStep)")
        }
    }

    /// Checks the training state of `metadata`, if it has one (see ``validate(path:)``), and
    /// that its global step is the metadata's `global_step` (the checkpoint's name).
    /// Metadata without a training state is left to ``CheckpointMetadata/validateRanges(path:)``.
    /// - Parameters:
    ///   - metadata: Metadata whose top-level fields already passed
    ///     ``CheckpointMetadata/validateRanges(path:)``.
    ///   - path: The file, for errors.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/invalidMetadata``
    ///   naming the key and its value.
    public static func validate(_ metadata: CheckpointMetadata, path: String? = nil) throws {
        guard let state = metadata.trainingState else { return }
        try state.validate(path: path)
        guard state.progress.globalStep == metadata.globalStep else {
            throw CheckpointError(.invalidMetadata,
                                  "training_state: global_step \(state.progress.globalStep) differs from the metadata's global_step \(metadata.globalStep)",
                                  path: path)
        }
    }
}
