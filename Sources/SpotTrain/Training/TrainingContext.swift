/// How a call to ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)`` ended.
public enum TrainingStatus: String, Sendable, Codable {
    /// Still running.
    case running
    /// Every epoch ran.
    case completed
    /// Stopped at the requested global step (`maxSteps`).
    case maxSteps = "max_steps"
    /// Stopped by an interruption (spot notice or signal) after saving.
    case interrupted
    /// Stopped by a callback, such as early stopping.
    case stopped
    /// Stopped because a training step's loss was not finite (NaN or ±infinity), as Keras's
    /// `TerminateOnNaN` does. The state after such a step is not saved: resuming from the
    /// last good checkpoint replays the same batches exactly and diverges again, so the run
    /// needs a change (a smaller learning rate, other data) rather than a restart.
    case diverged
}

/// Where a training run stands: everything about its position that, together with the
/// parameters, the optimizer state and the random generator's state, decides the next batch.
///
/// A checkpoint stores it; ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``
/// continues from it.
public struct TrainingProgress: Codable, Sendable, Equatable {
    /// The current epoch, counting from 0.
    public var epoch: Int = 0
    /// Batches of ``epoch`` already trained.
    public var stepInEpoch: Int = 0
    /// Batches trained since the run began.
    public var globalStep: Int = 0
    /// Sum of the batch losses (each weighted by its batch size) in the current epoch.
    public var epochLossSum: Double = 0
    /// Correct predictions in the current epoch's training batches.
    public var epochCorrect: Int = 0
    /// Examples trained in the current epoch.
    public var epochSeen: Int = 0
    /// One entry per completed epoch: `loss`, `accuracy`, `val_loss`, `val_accuracy`,
    /// `epoch_seconds`, … .
    public var history: [[String: Double]] = []
    /// Best values of monitored metrics, keyed by the callback that monitors them
    /// (for example `ModelCheckpoint`'s `val_accuracy`), so that they survive a resume.
    public var best: [String: Double] = [:]
    /// Seconds spent in training steps (gather, forward, backward, update) so far.
    public var trainingSeconds: Double = 0
    /// Examples trained so far.
    public var trainingSamples: Int = 0

    /// The state of a run that has not started.
    public init() {}
}

/// What every callback sees: the trainer, the run's configuration and its progress.
public final class TrainingContext {
    /// The trainer (model, optimizer, random generator).
    public let trainer: Trainer
    /// The number of epochs requested.
    public let epochs: Int
    /// Examples per batch.
    public let batchSize: Int
    /// Batches per epoch (the last may be partial).
    public let batchesPerEpoch: Int
    /// Training examples.
    public let trainingCount: Int
    /// The shuffle seed: epoch `e`'s order is a function of (`seed`, `e`) alone.
    public let seed: UInt64
    /// Stop after this global step, if set.
    public let maxSteps: Int?
    /// The position and metrics of the run.
    public internal(set) var progress: TrainingProgress
    /// The latest metrics: `loss` and `accuracy` (running means over the current epoch),
    /// after an epoch also `val_loss` and `val_accuracy`.
    public internal(set) var logs: [String: Double] = [:]
    /// The result of the latest training step.
    public internal(set) var lastStep: StepResult?
    /// `true` from the end of an epoch's last batch until its ``Callback/epochEnd(_:)`` calls
    /// return; a checkpoint written then records the next epoch as the position.
    public internal(set) var isAtEpochEnd = false
    /// How the run stands or ended.
    public internal(set) var status: TrainingStatus = .running
    /// Why a stop was requested.
    public private(set) var stopReason: String?
    /// Whether a callback asked training to stop.
    public var stopRequested: Bool { stopStatus != nil }
    /// The status a callback asked training to stop with (the strongest of the requests), or
    /// `nil`: what a data-parallel run tells its other processes, which must stop at the same step.
    public var requestedStopStatus: TrainingStatus? { stopStatus }
    private(set) var stopStatus: TrainingStatus?

    init(trainer: Trainer, epochs: Int, batchSize: Int, batchesPerEpoch: Int, trainingCount: Int,
         seed: UInt64, maxSteps: Int?, progress: TrainingProgress) {
        self.trainer = trainer
        self.epochs = epochs
        self.batchSize = batchSize
        self.batchesPerEpoch = batchesPerEpoch
        self.trainingCount = trainingCount
        self.seed = seed
        self.maxSteps = maxSteps
        self.progress = progress
    }

    /// The current epoch (from 0).
    public var epoch: Int { progress.epoch }
    /// Batches of the current epoch already trained.
    public var stepInEpoch: Int { progress.stepInEpoch }
    /// Batches trained since the run began.
    public var globalStep: Int { progress.globalStep }

    /// The position a checkpoint written now must record: after an epoch's end callbacks
    /// have started, the start of the next epoch.
    public var resumableProgress: TrainingProgress {
        guard isAtEpochEnd else { return progress }
        var p = progress
        p.epoch += 1
        p.stepInEpoch = 0
        p.epochLossSum = 0
        p.epochCorrect = 0
        p.epochSeen = 0
        return p
    }

    /// Asks training to stop after the current callback round.
    ///
    /// When several stops are requested, the most serious one is reported:
    /// `.diverged` over `.interrupted` over `.stopped` (the first reason of that status is kept).
    /// - Parameters:
    ///   - status: How the run will be reported (`.stopped`, `.interrupted` or `.diverged`).
    ///   - reason: A human-readable reason.
    public func requestStop(_ status: TrainingStatus = .stopped, reason: String) {
        precondition(status == .stopped || status == .interrupted || status == .diverged,
                     "TrainingContext.requestStop: status must be .stopped, .interrupted or .diverged, got \(status)")
        func rank(_ s: TrainingStatus?) -> Int {
            switch s {
            case .diverged: 3
            case .interrupted: 2
            case .stopped: 1
            default: 0
            }
        }
        if rank(status) > rank(stopStatus) {
            stopStatus = status
            stopReason = reason
        }
    }

    /// Whether training has diverged: a step's loss was not finite (the loop is stopping or
    /// has stopped with ``TrainingStatus/diverged``). Nothing should be saved from such a state.
    public var hasDiverged: Bool { stopStatus == .diverged || status == .diverged }

    /// Records the best value of a monitored metric so that it survives a resume.
    /// - Parameters:
    ///   - key: A key unique to the monitor, for example `"ModelCheckpoint.val_accuracy"`.
    ///   - value: The new best value.
    public func setBest(_ key: String, _ value: Double) { progress.best[key] = value }
}
