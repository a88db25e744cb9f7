#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The metadata section of a checkpoint, next to its tensors: who wrote it and when, its
/// global step (which names the file), the model's signature, and the run's
/// ``TrainingState``.
///
/// It is written as one UTF-8 JSON object with snake_case keys (see
/// `Docs/CheckpointFormat.md`). Keys are sorted, so equal metadata always encodes to equal
/// bytes. Metadata of format 1.0, which kept the training state in top-level keys and in
/// string-valued `extra` entries, is read too (its training state is converted).
public struct CheckpointMetadata: Codable, Equatable, Sendable {
    /// The `SpotTrainLibrary.version` that wrote the checkpoint.
    public var libraryVersion: String
    /// When the checkpoint was made, in milliseconds since 1970-01-01T00:00:00Z.
    public var createdUnixMilliseconds: Int64
    /// The number of optimizer steps taken since training began; names the checkpoint file
    /// (`ckpt-<global step>.spt`). Equals the training state's global step when there is one.
    public var globalStep: Int
    /// Everything exact resume needs besides the tensors; `nil` in a checkpoint that holds
    /// only tensors (one not written by ``TrainingState/capture(trainer:progress:seed:batchSize:trainingCount:)``).
    public var trainingState: TrainingState?
    /// The names, shapes and types of the model's parameters.
    public var modelSignature: ModelSignature

    /// Creates metadata.
    /// - Parameters:
    ///   - libraryVersion: The writing library's version; defaults to `SpotTrainLibrary.version`.
    ///   - createdUnixMilliseconds: Creation time in milliseconds since the Unix epoch;
    ///     defaults to now.
    ///   - globalStep: Optimizer steps taken in total; names the checkpoint file.
    ///   - trainingState: The run's state, if the checkpoint is to be resumable.
    ///   - modelSignature: The model's parameter names and shapes.
    public init(libraryVersion: String = SpotTrainLibrary.version,
                createdUnixMilliseconds: Int64 = CheckpointMetadata.currentUnixMilliseconds(),
                globalStep: Int, trainingState: TrainingState? = nil, modelSignature: ModelSignature) {
        self.libraryVersion = libraryVersion
        self.createdUnixMilliseconds = createdUnixMilliseconds
        self.globalStep = globalStep
        self.trainingState = trainingState
        self.modelSignature = modelSignature
    }

    /// Creates the metadata of a resumable checkpoint; its global step is the state's.
    /// - Parameters:
    ///   - libraryVersion: The writing library's version; defaults to `SpotTrainLibrary.version`.
    ///   - createdUnixMilliseconds: Creation time; defaults to now.
    ///   - trainingState: The run's state.
    ///   - modelSignature: The model's parameter names and shapes.
    public init(libraryVersion: String = SpotTrainLibrary.version,
                createdUnixMilliseconds: Int64 = CheckpointMetadata.currentUnixMilliseconds(),
                trainingState: TrainingState, modelSignature: ModelSignature) {
        self.init(libraryVersion: libraryVersion, createdUnixMilliseconds: createdUnixMilliseconds,
                  globalStep: trainingState.progress.globalStep, trainingState: trainingState,
                  modelSignature: modelSignature)
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

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case libraryVersion = "library_version"
        case createdUnixMilliseconds = "created_unix_ms"
        case globalStep = "global_step"
        case trainingState = "training_state"
        case modelSignature = "model_signature"
    }

    /// Decodes metadata; unknown keys are ignored and `training_state` may be absent or
    /// null. Without `training_state`, the format 1.0 keys are read instead (see
    /// `Docs/CheckpointFormat.md`, "Reading 1.0 metadata").
    /// - Parameter decoder: The decoder.
    /// - Throws: A `DecodingError` for missing or mistyped fields.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        libraryVersion = try c.decode(String.self, forKey: .libraryVersion)
        createdUnixMilliseconds = try c.decode(Int64.self, forKey: .createdUnixMilliseconds)
        globalStep = try c.decode(Int.self, forKey: .globalStep)
        if c.contains(.trainingState) {
            trainingState = try c.decodeIfPresent(TrainingState.self, forKey: .trainingState)
        } else {
            trainingState = try TrainingState.decodeLegacy(from: decoder)
        }
        modelSignature = try c.decode(ModelSignature.self, forKey: .modelSignature)
    }

    /// Encodes metadata with the keys listed in `Docs/CheckpointFormat.md`.
    /// - Parameter encoder: The encoder.
    /// - Throws: Whatever the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(libraryVersion, forKey: .libraryVersion)
        try c.encode(createdUnixMilliseconds, forKey: .createdUnixMilliseconds)
        try c.encode(globalStep, forKey: .globalStep)
        try c.encodeIfPresent(trainingState, forKey: .trainingState)
        try c.encode(modelSignature, forKey: .modelSignature)
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
