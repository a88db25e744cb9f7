/// The bridge between a training run and a ``Checkpoint``: everything that decides the next
/// batch (parameters, optimizer state, random-generator state, shuffle seed, position,
/// running metrics, best values) goes into the checkpoint, and comes back out of it.
///
/// Tensors are named by the model's parameter names (`conv1.weight`) and, for the optimizer's
/// slots, `optimizer.<slot>` (`optimizer.conv1.weight.m`). The rest of ``TrainingProgress``
/// and the optimizer's kind and hyperparameters go into the metadata (see
/// `Docs/CheckpointFormat.md`, "Training state").
public enum TrainingState {
    /// The prefix of optimizer slot tensor names.
    public static let optimizerPrefix = "optimizer."

    /// Keys in ``CheckpointMetadata/extra``.
    enum Key {
        static let epochLossSum = "progress.epoch_loss_sum"
        static let epochCorrect = "progress.epoch_correct"
        static let epochSeen = "progress.epoch_seen"
        static let trainingSeconds = "progress.training_seconds"
        static let trainingSamples = "progress.training_samples"
        static let batchSize = "run.batch_size"
        static let trainingCount = "run.training_count"
        static let bestPrefix = "best."
        static let optimizerKind = "optimizer.kind"
    }

    /// Captures the state of a run as a checkpoint. Tensors are copied, so training may go
    /// on while the checkpoint is written.
    /// - Parameters:
    ///   - trainer: The trainer (model, optimizer, generator).
    ///   - progress: The position to record (use ``TrainingContext/resumableProgress``).
    ///   - seed: The shuffle seed.
    ///   - batchSize: Examples per step (a resume must use the same).
    ///   - trainingCount: Training examples (a resume must use the same).
    ///   - best: The monitored best value to record in the metadata, if any.
    /// - Returns: The checkpoint.
    public static func capture(trainer: Trainer, progress: TrainingProgress, seed: UInt64,
                               batchSize: Int, trainingCount: Int,
                               best: CheckpointMetadata.BestValue? = nil) -> Checkpoint {
        let parameters = trainer.model.parameters
        var tensors = parameters.map { NamedTensor(name: $0.name, tensor: $0.value.copy()) }
        let optimizerState = trainer.optimizer.exportState()
        for name in optimizerState.slots.keys.sorted() {
            tensors.append(NamedTensor(name: optimizerPrefix + name, tensor: optimizerState.slots[name]!.copy()))
        }
        var extra: [String: String] = [
            Key.epochLossSum: "\(progress.epochLossSum)",
            Key.epochCorrect: "\(progress.epochCorrect)",
            Key.epochSeen: "\(progress.epochSeen)",
            Key.trainingSeconds: "\(progress.trainingSeconds)",
            Key.trainingSamples: "\(progress.trainingSamples)",
            Key.batchSize: "\(batchSize)",
            Key.trainingCount: "\(trainingCount)",
            Key.optimizerKind: optimizerState.kind,
        ]
        for (key, value) in progress.best { extra[Key.bestPrefix + key] = "\(value)" }
        let metadata = CheckpointMetadata(
            epoch: progress.epoch, stepInEpoch: progress.stepInEpoch, globalStep: progress.globalStep,
            rngState: trainer.rng.state, shuffleSeed: seed, best: best,
            metricsHistory: progress.history,
            optimizer: .init(name: optimizerState.kind, hyperparameters: optimizerState.hyperparameters,
                             step: optimizerState.stepCount),
            extra: extra,
            modelSignature: ModelSignature(trainer.model.parameterSignature))
        return Checkpoint(metadata: metadata, tensors: tensors)
    }

    /// Restores a run from a checkpoint: parameters, optimizer state and generator state,
    /// and returns the progress to pass to ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``.
    ///
    /// Everything is checked before anything changes: on a throw the trainer is untouched.
    /// - Parameters:
    ///   - checkpoint: A verified checkpoint (from ``CheckpointReader`` or ``CheckpointDirectory``).
    ///   - trainer: The trainer to restore into; its model must have the same parameters.
    ///   - batchSize: The run's batch size; must equal the saved one.
    ///   - trainingCount: The run's number of training examples; must equal the saved one.
    ///   - path: The file, for error messages.
    /// - Returns: The saved progress.
    /// - Throws: ``CheckpointError`` (`.signatureMismatch` naming the first mismatching
    ///   parameter, `.invalidMetadata` for a different batch size or data set, or missing
    ///   state), or ``OptimizerStateError`` for an optimizer of another kind.
    public static func restore(_ checkpoint: Checkpoint, into trainer: Trainer, batchSize: Int? = nil,
                               trainingCount: Int? = nil, path: String? = nil) throws -> TrainingProgress {
        let metadata = checkpoint.metadata
        let parameters = trainer.model.parameters
        // A checkpoint from a reader is already checked; one built in memory is checked here.
        try metadata.validateRanges(path: path)
        try validate(metadata, path: path)
        try metadata.verifySignature(against: trainer.model.parameterSignature)
        let byName = checkpoint.tensorsByName
        var values: [Tensor] = []
        for p in parameters {
            guard let t = byName[p.name], t.shape == p.value.shape else {
                throw CheckpointError(.signatureMismatch,
                                      "checkpoint has no tensor for parameter '\(p.name)' \(p.value.shape)", path: path)
            }
            values.append(t)
        }
        func number<T: LosslessStringConvertible>(_ key: String, _: T.Type) throws -> T {
            guard let text = metadata.extra[key], let value = T(text) else {
                throw CheckpointError(.invalidMetadata, "training state field '\(key)' is missing or invalid", path: path)
            }
            return value
        }
        let savedBatchSize = try number(Key.batchSize, Int.self)
        let savedCount = try number(Key.trainingCount, Int.self)
        if let batchSize, batchSize != savedBatchSize {
            throw CheckpointError(.invalidMetadata,
                                  "checkpoint was written with batch size \(savedBatchSize), this run uses \(batchSize)", path: path)
        }
        if let trainingCount, trainingCount != savedCount {
            throw CheckpointError(.invalidMetadata,
                                  "checkpoint was written for \(savedCount) training examples, this run has \(trainingCount)", path: path)
        }
        var progress = TrainingProgress()
        progress.epoch = metadata.epoch
        progress.stepInEpoch = metadata.stepInEpoch
        progress.globalStep = metadata.globalStep
        progress.history = metadata.metricsHistory
        progress.epochLossSum = try number(Key.epochLossSum, Double.self)
        progress.epochCorrect = try number(Key.epochCorrect, Int.self)
        progress.epochSeen = try number(Key.epochSeen, Int.self)
        progress.trainingSeconds = try number(Key.trainingSeconds, Double.self)
        progress.trainingSamples = try number(Key.trainingSamples, Int.self)
        for (key, text) in metadata.extra where key.hasPrefix(Key.bestPrefix) {
            guard let value = Double(text) else {
                throw CheckpointError(.invalidMetadata, "best value '\(key)' is not a number", path: path)
            }
            progress.best[String(key.dropFirst(Key.bestPrefix.count))] = value
        }
        guard let description = metadata.optimizer else {
            throw CheckpointError(.invalidMetadata, "checkpoint has no optimizer state", path: path)
        }
        var slots: [String: Tensor] = [:]
        for named in checkpoint.tensors where named.name.hasPrefix(optimizerPrefix) {
            slots[String(named.name.dropFirst(optimizerPrefix.count))] = named.tensor
        }
        let state = OptimizerState(kind: metadata.extra[Key.optimizerKind] ?? description.name,
                                   hyperparameters: description.hyperparameters,
                                   stepCount: description.step, slots: slots)
        // The optimizer validates everything before it changes anything; after it succeeds
        // nothing below can fail.
        try trainer.optimizer.importState(state, for: parameters)
        for (p, v) in zip(parameters, values) { p.value.assign(from: v) }
        trainer.rng.state = metadata.rngState
        return progress
    }
}
