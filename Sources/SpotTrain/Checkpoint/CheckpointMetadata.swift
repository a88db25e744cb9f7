#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The training state stored in a checkpoint's metadata section, next to its tensors.
///
/// It is written as one UTF-8 JSON object with snake_case keys (see
/// `Docs/CheckpointFormat.md`). 64-bit unsigned values (``rngState``, ``shuffleSeed``) are
/// written as decimal strings so that no JSON reader rounds them through a `Double`;
/// non-finite `Double`s are written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
/// Keys are sorted, so equal metadata always encodes to equal bytes.
public struct CheckpointMetadata: Codable, Equatable, Sendable {
    /// The `SpotTrainLibrary.version` that wrote the checkpoint.
    public var libraryVersion: String
    /// When the checkpoint was made, in milliseconds since 1970-01-01T00:00:00Z.
    public var createdUnixMilliseconds: Int64
    /// The epoch the next training step belongs to (0-based).
    public var epoch: Int
    /// How many steps of ``epoch`` were already taken (the data position inside the epoch).
    public var stepInEpoch: Int
    /// The number of optimizer steps taken since training began.
    public var globalStep: Int
    /// The complete state of the training random generator (`RandomGenerator.state`).
    public var rngState: UInt64
    /// The seed from which each epoch's shuffle order is derived.
    public var shuffleSeed: UInt64
    /// The best value of the monitored metric so far, if one is tracked.
    public var best: BestValue?
    /// One dictionary of metrics (name → value) per completed epoch, oldest first.
    public var metricsHistory: [[String: Double]]
    /// The optimizer's name, hyperparameters and step count, if an optimizer is stored.
    public var optimizer: OptimizerDescription?
    /// Free-form string values for callers (for example the command line that started the run).
    public var extra: [String: String]
    /// The names, shapes and types of the model's parameters.
    public var modelSignature: ModelSignature

    /// Creates metadata.
    /// - Parameters:
    ///   - libraryVersion: The writing library's version; defaults to `SpotTrainLibrary.version`.
    ///   - createdUnixMilliseconds: Creation time in milliseconds since the Unix epoch;
    ///     defaults to now.
    ///   - epoch: The current epoch (0-based).
    ///   - stepInEpoch: Steps already taken in `epoch`.
    ///   - globalStep: Optimizer steps taken in total; names the checkpoint file.
    ///   - rngState: The training generator's state.
    ///   - shuffleSeed: The shuffle seed.
    ///   - best: The best monitored value, if any.
    ///   - metricsHistory: Per-epoch metrics, oldest first.
    ///   - optimizer: The optimizer description, if any.
    ///   - extra: Free-form values.
    ///   - modelSignature: The model's parameter names and shapes.
    public init(libraryVersion: String = SpotTrainLibrary.version,
                createdUnixMilliseconds: Int64 = CheckpointMetadata.currentUnixMilliseconds(),
                epoch: Int, stepInEpoch: Int, globalStep: Int,
                rngState: UInt64, shuffleSeed: UInt64,
                best: BestValue? = nil, metricsHistory: [[String: Double]] = [],
                optimizer: OptimizerDescription? = nil, extra: [String: String] = [:],
                modelSignature: ModelSignature) {
        self.libraryVersion = libraryVersion
        self.createdUnixMilliseconds = createdUnixMilliseconds
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
        self.globalStep = globalStep
        self.rngState = rngState
        self.shuffleSeed = shuffleSeed
        self.best = best
        self.metricsHistory = metricsHistory
        self.optimizer = optimizer
        self.extra = extra
        self.modelSignature = modelSignature
    }

    /// The creation time as a `Date`.
    public var createdAt: Date {
        Date(timeIntervalSince1970: Double(createdUnixMilliseconds) / 1000)
    }

    /// The current wall-clock time in milliseconds since the Unix epoch.
    /// - Returns: Milliseconds, rounded down.
    public static func currentUnixMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Checks that this checkpoint's model signature matches the model being restored.
    /// - Parameter expected: The model's parameters, as (name, shape) pairs.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/signatureMismatch``
    ///   naming the first parameter that is missing, extra or of a different shape.
    public func verifySignature(against expected: [(name: String, shape: [Int])]) throws {
        try modelSignature.verify(against: ModelSignature(expected))
    }

    // MARK: Best value

    /// The best value of a monitored metric, with what "best" means.
    public struct BestValue: Codable, Equatable, Sendable {
        /// Whether smaller or larger values are better.
        public enum Mode: String, Codable, Sendable {
            /// Smaller is better (losses).
            case min
            /// Larger is better (accuracies).
            case max
        }
        /// The metric's name, such as `"val_loss"`.
        public var monitor: String
        /// Whether smaller or larger is better.
        public var mode: Mode
        /// The best value seen.
        public var value: Double

        /// Creates a best value.
        /// - Parameters:
        ///   - monitor: The metric's name.
        ///   - mode: Whether smaller or larger is better.
        ///   - value: The best value seen.
        public init(monitor: String, mode: Mode, value: Double) {
            self.monitor = monitor
            self.mode = mode
            self.value = value
        }
    }

    // MARK: Optimizer

    /// An optimizer's identity, hyperparameters and step count (its tensors are stored as
    /// records).
    public struct OptimizerDescription: Codable, Equatable, Sendable {
        /// The optimizer's name, such as `"adam"`.
        public var name: String
        /// Hyperparameters by name (`learning_rate`, `beta1`, …).
        public var hyperparameters: [String: Double]
        /// The number of update steps the optimizer has taken.
        public var step: Int

        /// Creates a description.
        /// - Parameters:
        ///   - name: The optimizer's name.
        ///   - hyperparameters: Hyperparameters by name.
        ///   - step: Steps taken.
        public init(name: String, hyperparameters: [String: Double], step: Int) {
            self.name = name
            self.hyperparameters = hyperparameters
            self.step = step
        }
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case libraryVersion = "library_version"
        case createdUnixMilliseconds = "created_unix_ms"
        case epoch
        case stepInEpoch = "step_in_epoch"
        case globalStep = "global_step"
        case rngState = "rng_state"
        case shuffleSeed = "shuffle_seed"
        case best
        case metricsHistory = "metrics_history"
        case optimizer
        case extra
        case modelSignature = "model_signature"
    }

    /// Decodes metadata; unknown keys are ignored, ``best`` and ``optimizer`` may be absent
    /// or null, ``metricsHistory`` and ``extra`` may be absent.
    /// - Parameter decoder: The decoder.
    /// - Throws: A `DecodingError` for missing or mistyped fields.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        libraryVersion = try c.decode(String.self, forKey: .libraryVersion)
        createdUnixMilliseconds = try c.decode(Int64.self, forKey: .createdUnixMilliseconds)
        epoch = try c.decode(Int.self, forKey: .epoch)
        stepInEpoch = try c.decode(Int.self, forKey: .stepInEpoch)
        globalStep = try c.decode(Int.self, forKey: .globalStep)
        rngState = try Self.decodeUInt64(c, .rngState)
        shuffleSeed = try Self.decodeUInt64(c, .shuffleSeed)
        best = try c.decodeIfPresent(BestValue.self, forKey: .best)
        metricsHistory = try c.decodeIfPresent([[String: Double]].self, forKey: .metricsHistory) ?? []
        optimizer = try c.decodeIfPresent(OptimizerDescription.self, forKey: .optimizer)
        extra = try c.decodeIfPresent([String: String].self, forKey: .extra) ?? [:]
        modelSignature = try c.decode(ModelSignature.self, forKey: .modelSignature)
    }

    /// Encodes metadata with the keys listed in `Docs/CheckpointFormat.md`.
    /// - Parameter encoder: The encoder.
    /// - Throws: Whatever the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(libraryVersion, forKey: .libraryVersion)
        try c.encode(createdUnixMilliseconds, forKey: .createdUnixMilliseconds)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(stepInEpoch, forKey: .stepInEpoch)
        try c.encode(globalStep, forKey: .globalStep)
        try c.encode(String(rngState), forKey: .rngState)
        try c.encode(String(shuffleSeed), forKey: .shuffleSeed)
        try c.encodeIfPresent(best, forKey: .best)
        try c.encode(metricsHistory, forKey: .metricsHistory)
        try c.encodeIfPresent(optimizer, forKey: .optimizer)
        try c.encode(extra, forKey: .extra)
        try c.encode(modelSignature, forKey: .modelSignature)
    }

    private static func decodeUInt64(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> UInt64 {
        let text = try c.decode(String.self, forKey: key)
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt64(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c, debugDescription: "'\(text)' is not a decimal UInt64")
        }
        return value
    }

    // MARK: JSON

    /// Encodes to the JSON bytes stored in a checkpoint (sorted keys, no whitespace).
    /// - Returns: UTF-8 JSON.
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return Array(try encoder.encode(self))
        } catch {
            // Every value is representable (non-finite doubles become strings), so this is
            // a bug in this file, not bad input.
            preconditionFailure("CheckpointMetadata: JSON encoding failed: \(error)")
        }
    }

    /// Decodes metadata from checkpoint JSON bytes.
    /// - Parameters:
    ///   - bytes: UTF-8 JSON.
    ///   - path: The file, for the error.
    /// - Returns: The metadata.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/invalidMetadata``
    ///   for JSON that is not checkpoint metadata, or for a value out of range (see
    ///   ``validateRanges(path:)``).
    public static func decode(json bytes: [UInt8], path: String? = nil) throws -> CheckpointMetadata {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let metadata: CheckpointMetadata
        do {
            metadata = try decoder.decode(CheckpointMetadata.self, from: Data(bytes))
        } catch {
            throw CheckpointError(.invalidMetadata, "metadata is not valid checkpoint JSON: \(describe(error))", path: path)
        }
        try metadata.modelSignature.validate(path: path)
        try metadata.validateRanges(path: path)
        return metadata
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? DecodingError {
            switch error {
            case .keyNotFound(let key, let context):
                return "missing key '\(pathText(context.codingPath + [key]))'"
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                let at = pathText(context.codingPath)
                return (at.isEmpty ? "" : "at '\(at)': ") + context.debugDescription
            @unknown default:
                return "\(error)"
            }
        }
        return "\(error)"
    }

    private static func pathText(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
