import Foundation

/// A job's specification, `s3://BUCKET/PREFIX/job.json`, written by `spottrain job up` and
/// read by every `spottrain job run`. JSON with snake_case keys:
///
/// ```json
/// {"format_version": 1, "name": "mnist", "auto_scaling_group": "spottrain-mnist",
///  "launch_template_name": "spottrain-mnist", "region": "us-east-1",
///  "train_arguments": ["--data", "s3://bucket/mnist", "--epochs", "12"],
///  "max_interruptions": 10, "max_hours": 24, "created_at": "2026-11-29T12:00:00Z"}
/// ```
///
/// The store layout under `s3://BUCKET/PREFIX/`: `job.json` (this), `status.json`
/// (``JobStatus``), `checkpoints/` (the S3 checkpoint store of the training run).
struct JobSpec: Codable, Equatable, Sendable {
    /// The ``formatVersion`` this build writes and reads.
    static let currentFormatVersion = 1
    /// The spec's key under the job's prefix.
    static let key = "job.json"

    /// The layout version (``currentFormatVersion``); another value is refused.
    var formatVersion: Int
    /// The job's name (`job up --name`).
    var name: String
    /// The Auto Scaling group that relaunches the job's instance.
    var autoScalingGroup: String
    /// The launch template of the group.
    var launchTemplateName: String
    /// The AWS region of the group (and, unless the train arguments say otherwise, the store).
    var region: String
    /// The options of `spottrain train` (without the ones the job sets; see
    /// ``JobTrainArguments``).
    var trainArguments: [String]
    /// After this many interruptions the job ends as `failed` (nil: no limit).
    var maxInterruptions: Int?
    /// After this many hours since ``createdAt`` the job ends as `failed` (nil: no limit).
    var maxHours: Double?
    /// When `job up` created the job.
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case name
        case autoScalingGroup = "auto_scaling_group"
        case launchTemplateName = "launch_template_name"
        case region
        case trainArguments = "train_arguments"
        case maxInterruptions = "max_interruptions"
        case maxHours = "max_hours"
        case createdAt = "created_at"
    }

    /// Checks what a decoder cannot: the format version, the limits and the train arguments.
    /// - Parameter location: Where the spec was read from, for messages.
    /// - Throws: ``JobError`` (`.invalidSpec`, exit 78) naming the field.
    func validate(location: String) throws {
        guard formatVersion == Self.currentFormatVersion else {
            throw JobError(.invalidSpec, "\(location): format_version \(formatVersion) is not supported by this spottrain "
                               + "(it reads \(Self.currentFormatVersion)); use the spottrain that wrote it")
        }
        guard !name.isEmpty, !autoScalingGroup.isEmpty else {
            throw JobError(.invalidSpec, "\(location): name and auto_scaling_group must not be empty")
        }
        if let maxInterruptions, maxInterruptions < 1 {
            throw JobError(.invalidSpec, "\(location): max_interruptions must be at least 1, got \(maxInterruptions)")
        }
        if let maxHours, !(maxHours > 0 && maxHours.isFinite) {
            throw JobError(.invalidSpec, "\(location): max_hours must be a positive number, got \(maxHours)")
        }
        do {
            try JobTrainArguments.validate(trainArguments)
        } catch let error as JobError {
            throw JobError(.invalidSpec, "\(location): train_arguments: \(error.message)", underlying: error)
        }
    }
}
