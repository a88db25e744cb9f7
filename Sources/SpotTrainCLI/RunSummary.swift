import Foundation

/// The JSON object `spottrain train --summary FILE` writes when a run ends: the contract
/// scripts and tests rely on. Keys are stable; new keys may be added.
///
/// `status` is the ``TrainingStatus`` raw value (`completed`, `max_steps`, `stopped`,
/// `interrupted`, `diverged`) or `save_failed` when the last save (or an interruption's
/// emergency save) failed, or `upload_failed` when the last checkpoint is on disk but could
/// not be stored in the S3 store. Non-finite numbers (a diverged loss) are written as `null`.
struct RunSummary: Encodable {
    /// The `status` of a run whose last save failed.
    static let saveFailedStatus = "save_failed"
    /// The `status` of a run whose last checkpoint is not in its S3 store.
    static let uploadFailedStatus = "upload_failed"

    var status: String
    var epochsCompleted: Int
    var globalStep: Int
    var testAccuracy: Double?
    var testLoss: Double?
    var trainLoss: Double?
    var samplesPerSecond: Double
    var wallSeconds: Double
    var weightsSHA256: String
    var seed: UInt64
    var threads: Int
    var history: [[String: Double]]
    var resumedFrom: String?
    var resumedStep: Int?
    var checkpoint: String?
    /// Checkpoints this process wrote, and the seconds it spent writing them (capture,
    /// encode, write, fsync, rename).
    var checkpointsSaved: Int = 0
    var checkpointSaveSeconds: Double = 0
    /// Saves that failed in this process (I/O errors); `checkpoint` is the newest good one.
    var checkpointFailures: Int = 0
    /// Why the run stopped early (early stopping, an interruption, divergence), if it did.
    var stopReason: String? = nil
    /// What stopped an interrupted run (`null` otherwise); see ``InterruptionSummary``.
    var interruption: InterruptionSummary? = nil
    /// The S3 store (`s3://BUCKET/PREFIX`), `null` without one.
    var checkpointStore: String? = nil
    /// Checkpoints this process uploaded to the store.
    var uploads: Int = 0
    /// Uploads that failed after every retry (the next checkpoint was uploaded as usual).
    var uploadFailures: Int = 0
    /// The newest checkpoint this process stored in the store (`s3://…`), `null` if none.
    var checkpointUploaded: String? = nil
    /// Data-parallel runs (`spottrain-mpi train`) only: the number of ranks. Absent for one
    /// process. `samples_per_second` then counts every rank's samples.
    var worldSize: Int? = nil
    /// Data-parallel runs only: rank 0's seconds in the per-step reduction (packing, waiting
    /// for the slowest rank, communicating, adding).
    var communicationSeconds: Double? = nil
    /// Data-parallel runs only: every rank's weights at the end (the first 8 bytes of their
    /// SHA-256, hex, in rank order): all equal when the ranks agree.
    var rankWeightsChecksums: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case status
        case epochsCompleted = "epochs_completed"
        case globalStep = "global_step"
        case testAccuracy = "test_accuracy"
        case testLoss = "test_loss"
        case trainLoss = "train_loss"
        case samplesPerSecond = "samples_per_second"
        case wallSeconds = "wall_seconds"
        case weightsSHA256 = "weights_sha256"
        case seed, threads, history
        case resumedFrom = "resumed_from"
        case resumedStep = "resumed_step"
        case checkpoint, interruption
        case checkpointsSaved = "checkpoints_saved"
        case checkpointSaveSeconds = "checkpoint_save_seconds"
        case checkpointFailures = "checkpoint_failures"
        case stopReason = "stop_reason"
        case checkpointStore = "checkpoint_store"
        case uploads
        case uploadFailures = "upload_failures"
        case checkpointUploaded = "checkpoint_uploaded"
        case worldSize = "world_size"
        case communicationSeconds = "communication_seconds"
        case rankWeightsChecksums = "rank_weights_checksums"
    }

    /// `value` if finite, else `nil` (JSON has no NaN or infinity).
    private static func finite(_ value: Double?) -> Double? {
        guard let value, value.isFinite else { return nil }
        return value
    }

    /// Encodes with every key present (`null` for absent optionals).
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(epochsCompleted, forKey: .epochsCompleted)
        try c.encode(globalStep, forKey: .globalStep)
        try c.encode(Self.finite(testAccuracy), forKey: .testAccuracy)
        try c.encode(Self.finite(testLoss), forKey: .testLoss)
        try c.encode(Self.finite(trainLoss), forKey: .trainLoss)
        try c.encode(Self.finite(samplesPerSecond), forKey: .samplesPerSecond)
        try c.encode(Self.finite(wallSeconds), forKey: .wallSeconds)
        try c.encode(weightsSHA256, forKey: .weightsSHA256)
        try c.encode(seed, forKey: .seed)
        try c.encode(threads, forKey: .threads)
        try c.encode(history.map { $0.mapValues(Self.finite) }, forKey: .history)
        try c.encode(resumedFrom, forKey: .resumedFrom)
        try c.encode(resumedStep, forKey: .resumedStep)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(interruption, forKey: .interruption)
        try c.encode(checkpointsSaved, forKey: .checkpointsSaved)
        try c.encode(Self.finite(checkpointSaveSeconds), forKey: .checkpointSaveSeconds)
        try c.encode(checkpointFailures, forKey: .checkpointFailures)
        try c.encode(stopReason, forKey: .stopReason)
        try c.encode(checkpointStore, forKey: .checkpointStore)
        try c.encode(uploads, forKey: .uploads)
        try c.encode(uploadFailures, forKey: .uploadFailures)
        try c.encode(checkpointUploaded, forKey: .checkpointUploaded)
        try c.encodeIfPresent(worldSize, forKey: .worldSize)
        try c.encodeIfPresent(communicationSeconds.flatMap(Self.finite), forKey: .communicationSeconds)
        try c.encodeIfPresent(rankWeightsChecksums, forKey: .rankWeightsChecksums)
    }

    /// Writes the summary to `path` atomically (a temporary file in the same directory,
    /// then a rename), so a reader never sees a partial file.
    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try encoder.encode(self)
        data.append(0x0A)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
