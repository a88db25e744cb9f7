extension TrainingState {
    /// Checks the training-state values a ``TrainingState/capture(trainer:progress:seed:batchSize:trainingCount:best:)``
    /// checkpoint keeps in ``CheckpointMetadata/extra``, against their ranges and against
    /// the position they describe, so that a CRC-valid file with an impossible value is
    /// reported by verification (and skipped by resume) instead of trapping the trainer.
    ///
    /// Applies when the metadata holds `run.batch_size` (the mark of a training-state
    /// checkpoint); metadata written by other code is left to
    /// ``CheckpointMetadata/validateRanges(path:)``. With `B` the batch size, `N` the
    /// training count and `S = ⌈N / B⌉` the steps per epoch:
    /// - `B` and `N` are in `1...CheckpointMetadata.maximumCount`;
    /// - `step_in_epoch ≤ S` and `global_step = epoch × S + step_in_epoch`;
    /// - `progress.epoch_seen = min(step_in_epoch × B, N)`;
    /// - `0 ≤ progress.epoch_correct ≤ progress.epoch_seen`;
    /// - `progress.epoch_seen ≤ progress.training_samples ≤ global_step × B`;
    /// - the optimizer's step is at most `global_step`;
    /// - `progress.epoch_loss_sum`, `progress.training_seconds` and every `best.*` value
    ///   are numbers, and the training seconds are finite and non-negative.
    /// - Parameters:
    ///   - metadata: Metadata whose top-level fields already passed
    ///     ``CheckpointMetadata/validateRanges(path:)``.
    ///   - path: The file, for errors.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/invalidMetadata``
    ///   naming the key and its value.
    public static func validate(_ metadata: CheckpointMetadata, path: String? = nil) throws {
        let extra = metadata.extra
        guard extra[Key.batchSize] != nil else { return }
        func fail(_ message: String) -> CheckpointError {
            CheckpointError(.invalidMetadata, "training state: " + message, path: path)
        }
        func integer(_ key: String, minimum: Int = 0) throws -> Int {
            guard let text = extra[key] else { throw fail("'\(key)' is missing") }
            guard let value = Int(text), value >= minimum, value <= CheckpointMetadata.maximumCount else {
                throw fail("'\(key)' is '\(text)', not an integer in \(minimum)...\(CheckpointMetadata.maximumCount)")
            }
            return value
        }
        func number(_ key: String) throws -> Double {
            guard let text = extra[key] else { throw fail("'\(key)' is missing") }
            guard let value = Double(text) else { throw fail("'\(key)' is '\(text)', not a number") }
            return value
        }
        let batchSize = try integer(Key.batchSize, minimum: 1)
        let count = try integer(Key.trainingCount, minimum: 1)
        let epochSeen = try integer(Key.epochSeen)
        let epochCorrect = try integer(Key.epochCorrect)
        let samples = try integer(Key.trainingSamples)
        _ = try number(Key.epochLossSum)
        let seconds = try number(Key.trainingSeconds)
        guard seconds.isFinite, seconds >= 0 else { throw fail("'\(Key.trainingSeconds)' is \(seconds), not a finite duration") }
        for (key, text) in extra where key.hasPrefix(Key.bestPrefix) {
            guard Double(text) != nil else { throw fail("'\(key)' is '\(text)', not a number") }
        }
        // Every value is at most 2^48; products of two of them are checked for overflow.
        let stepsPerEpoch = count / batchSize + (count % batchSize == 0 ? 0 : 1)
        let epoch = metadata.epoch, stepInEpoch = metadata.stepInEpoch, globalStep = metadata.globalStep
        guard stepInEpoch <= stepsPerEpoch else {
            throw fail("step_in_epoch \(stepInEpoch) exceeds the \(stepsPerEpoch) steps of an epoch (\(count) examples, batch size \(batchSize))")
        }
        let (epochSteps, epochOverflow) = epoch.multipliedReportingOverflow(by: stepsPerEpoch)
        guard !epochOverflow, epochSteps == globalStep - stepInEpoch else {
            throw fail("global_step \(globalStep) is not epoch \(epoch) × \(stepsPerEpoch) steps + step_in_epoch \(stepInEpoch)")
        }
        let expectedSeen = min(stepInEpoch * batchSize, count)
        guard epochSeen == expectedSeen else {
            throw fail("'\(Key.epochSeen)' is \(epochSeen), but \(stepInEpoch) steps of batch size \(batchSize) see \(expectedSeen) examples")
        }
        guard epochCorrect <= epochSeen else {
            throw fail("'\(Key.epochCorrect)' \(epochCorrect) exceeds '\(Key.epochSeen)' \(epochSeen)")
        }
        let (allSeen, samplesOverflow) = globalStep.multipliedReportingOverflow(by: batchSize)
        guard samples >= epochSeen, samplesOverflow || samples <= allSeen else {
            throw fail("'\(Key.trainingSamples)' is \(samples), outside \(epochSeen)...\(allSeen)")
        }
        if let optimizer = metadata.optimizer, optimizer.step > globalStep {
            throw fail("the optimizer's step \(optimizer.step) exceeds global_step \(globalStep)")
        }
    }
}
