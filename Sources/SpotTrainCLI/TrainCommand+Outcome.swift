import EC2Spot
import SpotTrain

/// How `spottrain train` ends: which errors a restart cannot fix, and how flags given on a
/// resume are reconciled with the checkpoint. See `Docs/Training.md`, "Exit statuses".
extension TrainCommand {
    /// The exit status for an error that ended a run: 78 for what no restart can fix (bad or
    /// empty data files, a checkpoint of another model or run configuration), 1 for what may
    /// be transient (I/O errors, a checkpoint directory that cannot be read, an S3 store that
    /// cannot be reached). A store that refuses the run's requests (wrong secret, no such
    /// bucket, access denied), missing credentials and a bad AWS configuration are 78.
    package static func exitStatus(for error: Error) -> Int32 {
        switch error {
        case is MNISTError, is OptimizerStateError:
            return ExitStatus.configuration
        case let error as IDXError:
            return error.code == .readFailed ? ExitStatus.failure : ExitStatus.configuration
        case let error as TrainingError:
            return error.code == .emptyTrainingSet ? ExitStatus.configuration : ExitStatus.failure
        case let error as CheckpointError:
            switch error.code {
            case .signatureMismatch, .invalidMetadata: return ExitStatus.configuration
            default: return ExitStatus.failure
            }
        case let error as CheckpointStoreError:
            // A store that refuses (wrong secret, no such bucket, access denied) refuses again.
            return error.code == .refused ? ExitStatus.configuration : ExitStatus.failure
        case let error as S3DataError:
            return error.exitStatus
        case is CredentialsError, is EC2ConfigurationError:
            return ExitStatus.configuration
        default:
            return ExitStatus.failure
        }
    }

    /// Applies the one policy for flags against the checkpoint being resumed:
    ///
    /// - a flag that keeps the resume exact but changes the run (`--learning-rate`) wins
    ///   over the checkpoint's value, with a notice;
    /// - a flag that would change the data order (`--batch-size`, `--seed`, `--train-limit`)
    ///   is refused (``UsageError``, exit 64) when it was given and differs, unless `--fresh`
    ///   (which never gets here: it starts over);
    /// - a flag that was not given takes the checkpoint's value (a run started with
    ///   `--train-limit N` continues with the first N examples).
    ///
    /// - Parameters:
    ///   - point: The checkpoint resumed from (already restored into `trainer`).
    ///   - trainer: The trainer.
    ///   - trainSet: The loaded training set; replaced by its first `point.trainingCount`
    ///     examples when `--train-limit` was not given and the checkpoint used fewer.
    /// - Returns: The batch size and seed to train with.
    /// - Throws: ``UsageError`` for a contradicting flag; ``MNISTError`` when the data holds
    ///   fewer training examples than the checkpoint was written for.
    func reconcile(with point: ResumePoint, trainer: Trainer, trainSet: inout Dataset) throws -> (batchSize: Int, seed: UInt64) {
        var conflicts: [String] = []
        if let batchSize, batchSize != point.batchSize {
            conflicts.append("--batch-size \(batchSize) (the checkpoint's is \(point.batchSize))")
        }
        if let seed, seed != point.seed {
            conflicts.append("--seed \(seed) (the checkpoint's is \(point.seed))")
        }
        if let trainLimit, trainSet.count != point.trainingCount {
            conflicts.append("--train-limit \(trainLimit) gives \(trainSet.count) training examples "
                             + "(the checkpoint was written for \(point.trainingCount))")
        }
        guard conflicts.isEmpty else {
            throw UsageError(message: conflicts.joined(separator: ", ") + " would change the data order of the run in "
                             + "\(point.file.path): drop \(conflicts.count == 1 ? "it" : "them") to continue that run exactly, "
                             + "or pass --fresh to start a new run")
        }
        if trainSet.count != point.trainingCount {
            guard point.trainingCount >= 1 && point.trainingCount < trainSet.count else {
                throw MNISTError(.countMismatch, path: data,
                                 message: "the training files hold \(trainSet.count) examples, the checkpoint \(point.file.path) "
                                     + "was written for \(point.trainingCount): the data changed; pass --fresh to start over")
            }
            printNotice("using the first \(point.trainingCount) training examples, as the checkpoint's run did "
                        + "(it was started with --train-limit \(point.trainingCount))")
            trainSet = trainSet.subset(first: point.trainingCount)
        }
        if let learningRate {
            let restored = trainer.optimizer.learningRate
            // Compared as the Float the update uses (format 1.0 checkpoints hold the rate as
            // a widened Float).
            if Float(restored) != Float(learningRate) {
                trainer.optimizer.learningRate = learningRate
                printNotice("using --learning-rate \(learningRate) instead of the checkpoint's \(restored) "
                            + "(the rest of the run continues exactly)")
            }
        }
        return (point.batchSize, point.seed)
    }
}
