/// Reading the training state of format 1.0 checkpoints (SpotTrain up to commit `2144e8b`
/// and its successors before the `training_state` object), whose metadata kept the position
/// in top-level keys and the rest as decimal strings in `extra` (see
/// `Docs/CheckpointFormat.md`, "Reading 1.0 metadata").
extension TrainingState {
    /// The `extra` keys of format 1.0.
    enum LegacyKey {
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

    /// The top-level keys of format 1.0 metadata that held training state.
    enum LegacyCodingKeys: String, CodingKey {
        case epoch
        case stepInEpoch = "step_in_epoch"
        case globalStep = "global_step"
        case rngState = "rng_state"
        case shuffleSeed = "shuffle_seed"
        case metricsHistory = "metrics_history"
        case optimizer
        case extra
    }

    /// The 1.0 `optimizer` object.
    struct LegacyOptimizer: Decodable {
        var name: String
        var hyperparameters: [String: Double]
        var step: Int
    }

    /// The training state of format 1.0 metadata, or `nil` when it holds none (no
    /// `extra["run.batch_size"]`: a checkpoint not written by `TrainingState.capture`).
    /// - Parameter decoder: The decoder of the whole metadata object.
    /// - Returns: The state.
    /// - Throws: `DecodingError` for a missing or malformed 1.0 key.
    static func decodeLegacy(from decoder: any Decoder) throws -> TrainingState? {
        let c = try decoder.container(keyedBy: LegacyCodingKeys.self)
        let extra = try c.decodeIfPresent([String: String].self, forKey: .extra) ?? [:]
        guard extra[LegacyKey.batchSize] != nil else { return nil }
        func value<T: LosslessStringConvertible>(_ key: String, _: T.Type) throws -> T {
            guard let text = extra[key] else {
                throw DecodingError.keyNotFound(LegacyCodingKeys.extra, .init(
                    codingPath: c.codingPath, debugDescription: "format 1.0 training state has no extra['\(key)']"))
            }
            guard let value = T(text) else {
                throw DecodingError.dataCorruptedError(forKey: .extra, in: c,
                                                       debugDescription: "extra['\(key)'] is '\(text)', not a \(T.self)")
            }
            return value
        }
        var progress = TrainingProgress()
        progress.epoch = try c.decode(Int.self, forKey: .epoch)
        progress.stepInEpoch = try c.decode(Int.self, forKey: .stepInEpoch)
        progress.globalStep = try c.decode(Int.self, forKey: .globalStep)
        progress.history = try c.decodeIfPresent([[String: Double]].self, forKey: .metricsHistory) ?? []
        progress.epochLossSum = try value(LegacyKey.epochLossSum, Double.self)
        progress.epochCorrect = try value(LegacyKey.epochCorrect, Int.self)
        progress.epochSeen = try value(LegacyKey.epochSeen, Int.self)
        progress.trainingSeconds = try value(LegacyKey.trainingSeconds, Double.self)
        progress.trainingSamples = try value(LegacyKey.trainingSamples, Int.self)
        for key in extra.keys where key.hasPrefix(LegacyKey.bestPrefix) {
            progress.best[String(key.dropFirst(LegacyKey.bestPrefix.count))] = try value(key, Double.self)
        }
        guard let optimizer = try c.decodeIfPresent(LegacyOptimizer.self, forKey: .optimizer) else {
            throw DecodingError.keyNotFound(LegacyCodingKeys.optimizer, .init(
                codingPath: c.codingPath, debugDescription: "format 1.0 training state has no optimizer"))
        }
        return TrainingState(
            progress: progress,
            seed: try decodeDecimalUInt64(c, .shuffleSeed),
            batchSize: try value(LegacyKey.batchSize, Int.self),
            trainingCount: try value(LegacyKey.trainingCount, Int.self),
            rngState: try decodeDecimalUInt64(c, .rngState),
            optimizer: OptimizerRecord(kind: extra[LegacyKey.optimizerKind] ?? optimizer.name,
                                       hyperparameters: optimizer.hyperparameters, step: optimizer.step))
    }
}
