/// The JSON form of ``TrainingState`` (`training_state` in the checkpoint metadata; every
/// key is documented in `Docs/CheckpointFormat.md`, "Training state").
///
/// Integers are JSON integers; the two 64-bit unsigned values (`seed`, `rng_state`) are
/// decimal strings, so that no JSON reader rounds them through a `Double`. `Double`s are
/// written in the shortest form that reads back to the same bits (non-finite values as
/// `"NaN"`, `"Infinity"`, `"-Infinity"`, as everywhere in the metadata).
extension TrainingState {
    enum CodingKeys: String, CodingKey {
        case epoch
        case stepInEpoch = "step_in_epoch"
        case globalStep = "global_step"
        case epochLossSum = "epoch_loss_sum"
        case epochCorrect = "epoch_correct"
        case epochSeen = "epoch_seen"
        case trainingSeconds = "training_seconds"
        case trainingSamples = "training_samples"
        case metricsHistory = "metrics_history"
        case seed
        case batchSize = "batch_size"
        case trainingCount = "training_count"
        case rngState = "rng_state"
        case optimizer
        case callbacks
    }

    /// Decodes the state; every key is required.
    /// - Parameter decoder: The decoder.
    /// - Throws: A `DecodingError` for a missing or mistyped key, a UInt64 that is not a
    ///   decimal string, or a callback value given twice.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var progress = TrainingProgress()
        progress.epoch = try c.decode(Int.self, forKey: .epoch)
        progress.stepInEpoch = try c.decode(Int.self, forKey: .stepInEpoch)
        progress.globalStep = try c.decode(Int.self, forKey: .globalStep)
        progress.epochLossSum = try c.decode(Double.self, forKey: .epochLossSum)
        progress.epochCorrect = try c.decode(Int.self, forKey: .epochCorrect)
        progress.epochSeen = try c.decode(Int.self, forKey: .epochSeen)
        progress.trainingSeconds = try c.decode(Double.self, forKey: .trainingSeconds)
        progress.trainingSamples = try c.decode(Int.self, forKey: .trainingSamples)
        progress.history = try c.decode([[String: Double]].self, forKey: .metricsHistory)
        progress.best = try c.decode(CallbackState.self, forKey: .callbacks).values(codingPath: c.codingPath + [CodingKeys.callbacks])
        self.init(progress: progress,
                  seed: try decodeDecimalUInt64(c, .seed),
                  batchSize: try c.decode(Int.self, forKey: .batchSize),
                  trainingCount: try c.decode(Int.self, forKey: .trainingCount),
                  rngState: try decodeDecimalUInt64(c, .rngState),
                  optimizer: try c.decode(OptimizerRecord.self, forKey: .optimizer))
    }

    /// Encodes the state with the keys of `Docs/CheckpointFormat.md`.
    /// - Parameter encoder: The encoder.
    /// - Throws: Whatever the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(progress.epoch, forKey: .epoch)
        try c.encode(progress.stepInEpoch, forKey: .stepInEpoch)
        try c.encode(progress.globalStep, forKey: .globalStep)
        try c.encode(progress.epochLossSum, forKey: .epochLossSum)
        try c.encode(progress.epochCorrect, forKey: .epochCorrect)
        try c.encode(progress.epochSeen, forKey: .epochSeen)
        try c.encode(progress.trainingSeconds, forKey: .trainingSeconds)
        try c.encode(progress.trainingSamples, forKey: .trainingSamples)
        try c.encode(progress.history, forKey: .metricsHistory)
        try c.encode(String(seed), forKey: .seed)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(trainingCount, forKey: .trainingCount)
        try c.encode(String(rngState), forKey: .rngState)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(CallbackState(progress.best), forKey: .callbacks)
    }

    /// The callbacks' values (``TrainingProgress/best``) by callback: the library's own
    /// callbacks each have a typed entry; values other callbacks set with
    /// ``TrainingContext/setBest(_:_:)`` are kept under their own names in ``custom``.
    public struct CallbackState: Codable, Equatable, Sendable {
        /// The best monitored value of a ``ModelCheckpoint`` (kept in
        /// ``TrainingProgress/best`` as `ModelCheckpoint.<monitor>`).
        public struct ModelCheckpointState: Codable, Equatable, Sendable {
            /// The monitored metric, such as `val_loss`.
            public var monitor: String
            /// The best value seen.
            public var best: Double

            /// Creates an entry.
            /// - Parameters:
            ///   - monitor: The monitored metric.
            ///   - best: The best value seen.
            public init(monitor: String, best: Double) {
                self.monitor = monitor
                self.best = best
            }
        }
        /// The state of an ``EarlyStopping`` (kept as `EarlyStopping.<monitor>` and
        /// `EarlyStopping.<monitor>.wait`).
        public struct EarlyStoppingState: Codable, Equatable, Sendable {
            /// The monitored metric.
            public var monitor: String
            /// The best value seen, if any.
            public var best: Double?
            /// Epochs in a row without improvement, if recorded.
            public var wait: Int?

            /// Creates an entry.
            /// - Parameters:
            ///   - monitor: The monitored metric.
            ///   - best: The best value seen, if any.
            ///   - wait: Epochs without improvement, if recorded.
            public init(monitor: String, best: Double? = nil, wait: Int? = nil) {
                self.monitor = monitor
                self.best = best
                self.wait = wait
            }
        }
        /// One entry per monitored metric, sorted by monitor.
        public var modelCheckpoint: [ModelCheckpointState]
        /// One entry per monitored metric, sorted by monitor.
        public var earlyStopping: [EarlyStoppingState]
        /// Values set by other callbacks, by their own names.
        public var custom: [String: Double]

        enum CodingKeys: String, CodingKey {
            case modelCheckpoint = "model_checkpoint"
            case earlyStopping = "early_stopping"
            case custom
        }

        static let modelCheckpointPrefix = "ModelCheckpoint."
        static let earlyStoppingPrefix = "EarlyStopping."
        static let waitSuffix = ".wait"

        /// Sorts the values of ``TrainingProgress/best`` by callback. Every value lands in
        /// exactly one place, so ``values(codingPath:)`` gives back the same dictionary.
        /// - Parameter best: Values by key.
        public init(_ best: [String: Double]) {
            var modelCheckpoint: [ModelCheckpointState] = []
            var earlyStopping: [String: EarlyStoppingState] = [:]
            var custom: [String: Double] = [:]
            for (key, value) in best {
                if key.hasPrefix(Self.modelCheckpointPrefix) {
                    modelCheckpoint.append(.init(monitor: String(key.dropFirst(Self.modelCheckpointPrefix.count)), best: value))
                } else if key.hasPrefix(Self.earlyStoppingPrefix) {
                    let rest = String(key.dropFirst(Self.earlyStoppingPrefix.count))
                    // `EarlyStopping.<m>.wait` is a wait counter when `EarlyStopping.<m>` is
                    // there too (EarlyStopping sets both) and the value is a count.
                    let base = rest.hasSuffix(Self.waitSuffix) ? String(rest.dropLast(Self.waitSuffix.count)) : nil
                    if let base, best[Self.earlyStoppingPrefix + base] != nil, value >= 0, value <= 1e15,
                       let wait = Int(exactly: value) {
                        earlyStopping[base, default: .init(monitor: base)].wait = wait
                    } else {
                        earlyStopping[rest, default: .init(monitor: rest)].best = value
                    }
                } else {
                    custom[key] = value
                }
            }
            self.modelCheckpoint = modelCheckpoint.sorted { $0.monitor < $1.monitor }
            self.earlyStopping = earlyStopping.values.sorted { $0.monitor < $1.monitor }
            self.custom = custom
        }

        /// The values as ``TrainingProgress/best`` keeps them.
        /// - Parameter codingPath: Where this object is, for the error.
        /// - Returns: Values by key.
        /// - Throws: `DecodingError.dataCorrupted` when two entries name the same key.
        func values(codingPath: [any CodingKey]) throws -> [String: Double] {
            var result: [String: Double] = [:]
            func put(_ key: String, _ value: Double) throws {
                guard result.updateValue(value, forKey: key) == nil else {
                    throw DecodingError.dataCorrupted(.init(codingPath: codingPath,
                                                            debugDescription: "callback value '\(key)' is given twice"))
                }
            }
            for entry in modelCheckpoint { try put(Self.modelCheckpointPrefix + entry.monitor, entry.best) }
            for entry in earlyStopping {
                if let best = entry.best { try put(Self.earlyStoppingPrefix + entry.monitor, best) }
                if let wait = entry.wait {
                    guard wait >= 0 else {
                        throw DecodingError.dataCorrupted(.init(codingPath: codingPath,
                                                                debugDescription: "early_stopping wait \(wait) is negative"))
                    }
                    try put(Self.earlyStoppingPrefix + entry.monitor + Self.waitSuffix, Double(wait))
                }
            }
            for (key, value) in custom { try put(key, value) }
            return result
        }
    }
}

/// A UInt64 written as a decimal string (digits only).
func decodeDecimalUInt64<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> UInt64 {
    let text = try c.decode(String.self, forKey: key)
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt64(text) else {
        throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "'\(text)' is not a decimal UInt64")
    }
    return value
}
