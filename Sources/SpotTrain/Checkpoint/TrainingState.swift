/// The complete state of a training run that exact resume depends on, as one `Codable`
/// value: position and running metrics, run settings, the random generator's state, the
/// optimizer's kind, hyperparameters and step count, and the state of the callbacks.
///
/// A checkpoint stores it as the one JSON object `training_state` of its metadata (every
/// key is listed in `Docs/CheckpointFormat.md`, "Training state"); the tensors next to it
/// are the model's parameters, by their names (`conv1.weight`), and the optimizer's slots,
/// named ``optimizerPrefix`` + slot (`optimizer.conv1.weight.m`).
///
/// ``capture(trainer:progress:seed:batchSize:trainingCount:)`` builds the checkpoint of a
/// run and ``restore(_:into:batchSize:trainingCount:path:)`` puts it back. A custom loop
/// that keeps a ``TrainingProgress`` builds the value with
/// ``init(progress:seed:batchSize:trainingCount:rngState:optimizer:)``.
public struct TrainingState: Codable, Equatable, Sendable {
    /// The prefix of optimizer slot tensor names.
    public static let optimizerPrefix = "optimizer."

    /// The position (epoch, step in epoch, global step), the current epoch's running sums,
    /// the totals, the metrics history and the callbacks' values (``TrainingProgress/best``).
    public var progress: TrainingProgress
    /// The shuffle seed: epoch `e`'s order is a function of (`seed`, `e`) alone.
    public var seed: UInt64
    /// Examples per step; a resume must use the same (the data order depends on it).
    public var batchSize: Int
    /// Training examples; a resume must use the same.
    public var trainingCount: Int
    /// The complete state of the training random generator (``RandomGenerator/state``).
    public var rngState: UInt64
    /// The optimizer's kind, hyperparameters and step count (its slot tensors are records).
    public var optimizer: OptimizerRecord

    /// An optimizer's identity, hyperparameters and step count: ``OptimizerState`` without
    /// its tensors.
    public struct OptimizerRecord: Codable, Equatable, Sendable {
        /// The optimizer type (``Adam/kind`` `"Adam"`, ``SGD/kind`` `"SGD"`).
        public var kind: String
        /// Hyperparameters by name (`learningRate`, `beta1`, …); flags are 0 or 1.
        public var hyperparameters: [String: Double]
        /// The number of update steps the optimizer has taken.
        public var step: Int

        /// Creates a record.
        /// - Parameters:
        ///   - kind: The optimizer type.
        ///   - hyperparameters: Hyperparameters by name.
        ///   - step: Steps taken.
        public init(kind: String, hyperparameters: [String: Double], step: Int) {
            self.kind = kind
            self.hyperparameters = hyperparameters
            self.step = step
        }

        /// The record of `state` (its slots are left out).
        /// - Parameter state: An exported optimizer state.
        public init(_ state: OptimizerState) {
            self.init(kind: state.kind, hyperparameters: state.hyperparameters, step: state.stepCount)
        }
    }

    /// Creates a state.
    /// - Parameters:
    ///   - progress: The position and metrics to record (in ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``
    ///     use ``TrainingContext/resumableProgress``).
    ///   - seed: The shuffle seed.
    ///   - batchSize: Examples per step.
    ///   - trainingCount: Training examples.
    ///   - rngState: The training generator's state.
    ///   - optimizer: The optimizer's kind, hyperparameters and step count.
    public init(progress: TrainingProgress, seed: UInt64, batchSize: Int, trainingCount: Int,
                rngState: UInt64, optimizer: OptimizerRecord) {
        self.progress = progress
        self.seed = seed
        self.batchSize = batchSize
        self.trainingCount = trainingCount
        self.rngState = rngState
        self.optimizer = optimizer
    }

    /// Captures the state of a run as a checkpoint. Tensors are copied, so training may go
    /// on while the checkpoint is written.
    /// - Parameters:
    ///   - trainer: The trainer (model, optimizer, generator).
    ///   - progress: The position to record (use ``TrainingContext/resumableProgress``).
    ///   - seed: The shuffle seed.
    ///   - batchSize: Examples per step (a resume must use the same).
    ///   - trainingCount: Training examples (a resume must use the same).
    /// - Returns: The checkpoint: parameters and optimizer slots as tensors, everything
    ///   else in ``CheckpointMetadata/trainingState``.
    public static func capture(trainer: Trainer, progress: TrainingProgress, seed: UInt64,
                               batchSize: Int, trainingCount: Int) -> Checkpoint {
        let parameters = trainer.model.parameters
        var tensors = parameters.map { NamedTensor(name: $0.name, tensor: $0.value.copy()) }
        let optimizerState = trainer.optimizer.exportState()
        for (name, slot) in optimizerState.slots.sorted(by: { $0.key < $1.key }) {
            tensors.append(NamedTensor(name: optimizerPrefix + name, tensor: slot.copy()))
        }
        let state = TrainingState(progress: progress, seed: seed, batchSize: batchSize,
                                  trainingCount: trainingCount, rngState: trainer.rng.state,
                                  optimizer: OptimizerRecord(optimizerState))
        let metadata = CheckpointMetadata(trainingState: state,
                                          modelSignature: ModelSignature(trainer.model.parameterSignature))
        return Checkpoint(metadata: metadata, tensors: tensors)
    }

    /// Restores a run from a checkpoint: parameters, optimizer state and generator state,
    /// and returns the progress to pass to ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``.
    ///
    /// The optimizer takes the checkpoint's hyperparameters (see
    /// ``ResumePoint/replacedHyperparameters``). Everything is checked before anything
    /// changes: on a throw the trainer is untouched.
    /// - Parameters:
    ///   - checkpoint: A verified checkpoint (from ``CheckpointReader`` or ``CheckpointDirectory``).
    ///   - trainer: The trainer to restore into; its model must have the same parameters.
    ///   - batchSize: The run's batch size; must equal the saved one (`nil`: not checked).
    ///   - trainingCount: The run's number of training examples; must equal the saved one
    ///     (`nil`: not checked).
    ///   - path: The file, for error messages.
    /// - Returns: The saved progress.
    /// - Throws: ``CheckpointError`` (`.signatureMismatch` naming the first mismatching
    ///   parameter, `.invalidMetadata` for a different batch size or data set, or a
    ///   checkpoint without a training state), or ``OptimizerStateError`` for an optimizer of
    ///   another kind.
    public static func restore(_ checkpoint: Checkpoint, into trainer: Trainer, batchSize: Int? = nil,
                               trainingCount: Int? = nil, path: String? = nil) throws -> TrainingProgress {
        let metadata = checkpoint.metadata
        let parameters = trainer.model.parameters
        // A checkpoint from a reader is already checked; one built in memory is checked here.
        try metadata.validateRanges(path: path)
        try validate(metadata, path: path)
        guard let state = metadata.trainingState else {
            throw CheckpointError(.invalidMetadata, "checkpoint has no training state", path: path)
        }
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
        if let batchSize, batchSize != state.batchSize {
            throw CheckpointError(.invalidMetadata,
                                  "checkpoint was written with batch size \(state.batchSize), this run uses \(batchSize)", path: path)
        }
        if let trainingCount, trainingCount != state.trainingCount {
            throw CheckpointError(.invalidMetadata,
                                  "checkpoint was written for \(state.trainingCount) training examples, this run has \(trainingCount)", path: path)
        }
        var slots: [String: Tensor] = [:]
        for named in checkpoint.tensors where named.name.hasPrefix(optimizerPrefix) {
            slots[String(named.name.dropFirst(optimizerPrefix.count))] = named.tensor
        }
        let optimizerState = OptimizerState(kind: state.optimizer.kind, hyperparameters: state.optimizer.hyperparameters,
                                            stepCount: state.optimizer.step, slots: slots)
        // The optimizer validates everything before it changes anything; after it succeeds
        // nothing below can fail.
        try trainer.optimizer.importState(optimizerState, for: parameters)
        for (p, v) in zip(parameters, values) { p.value.assign(from: v) }
        trainer.rng.state = state.rngState
        return state.progress
    }
}
