import Foundation

/// The JSON object `spottrain train --summary FILE` writes when a run ends: the contract
/// scripts and tests rely on. Keys are stable; new keys may be added.
struct RunSummary: Encodable {
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
    /// What stopped an interrupted run (`null` otherwise); see ``InterruptionSummary``.
    var interruption: InterruptionSummary? = nil

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
    }

    /// Encodes with every key present (`null` for absent optionals).
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(epochsCompleted, forKey: .epochsCompleted)
        try c.encode(globalStep, forKey: .globalStep)
        try c.encode(testAccuracy, forKey: .testAccuracy)
        try c.encode(testLoss, forKey: .testLoss)
        try c.encode(trainLoss, forKey: .trainLoss)
        try c.encode(samplesPerSecond, forKey: .samplesPerSecond)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(weightsSHA256, forKey: .weightsSHA256)
        try c.encode(seed, forKey: .seed)
        try c.encode(threads, forKey: .threads)
        try c.encode(history, forKey: .history)
        try c.encode(resumedFrom, forKey: .resumedFrom)
        try c.encode(resumedStep, forKey: .resumedStep)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(interruption, forKey: .interruption)
        try c.encode(checkpointsSaved, forKey: .checkpointsSaved)
        try c.encode(checkpointSaveSeconds, forKey: .checkpointSaveSeconds)
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
