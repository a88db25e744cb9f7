import Foundation

/// A job's status, `s3://BUCKET/PREFIX/status.json`: written by `job up` (`pending`) and by
/// every `job run` (at its start, at checkpoints, at its end), read by `job status`. JSON
/// with snake_case keys; dates in ISO 8601.
///
/// `attempts` counts `job run` starts; `interruptions` lists the spot notices answered with
/// a checkpoint (exit 75), the only ones counted as interruptions. Lost work is recorded as
/// far as it is known: an interruption's `lost_steps` is the step the run stopped at minus
/// the step the next attempt resumed from (0 when the emergency checkpoint was used); an
/// attempt that ended otherwise (exit 1, or its instance vanished) gets `lost_steps` from its
/// last recorded step when the next attempt resumes.
struct JobStatus: Codable, Equatable, Sendable {
    /// The status's key under the job's prefix.
    static let key = "status.json"

    /// Where the job is.
    enum State: String, Codable, Sendable {
        /// Created; no instance has started it yet.
        case pending
        /// An instance is training.
        case running
        /// The last attempt ended (interrupted or a transient error); the group starts another.
        case recovering
        /// Training finished; the group's desired capacity is 0.
        case succeeded
        /// Ended for good (a permanent error or a limit); the group's desired capacity is 0.
        case failed
    }

    /// One `job run`.
    struct Attempt: Codable, Equatable, Sendable {
        /// 1, 2, … in start order.
        var number: Int
        /// The EC2 instance.
        var instanceId: String
        /// Its type (`c7i.large`).
        var instanceType: String
        /// Its Availability Zone.
        var availabilityZone: String
        /// When `job run` started.
        var startedAt: Date
        /// When it ended (nil while running, or when the instance vanished without a word).
        var endedAt: Date?
        /// The exit status of `job run` (nil until it ended).
        var exitStatus: Int32?
        /// The global step training resumed from (0 from scratch), once known.
        var startStep: Int?
        /// The newest global step recorded (at checkpoints and at the end).
        var lastStep: Int?
        /// Steps trained in this attempt that the next one did not resume from (filled in by
        /// the next attempt; interrupted attempts record it on their interruption).
        var lostSteps: Int?

        enum CodingKeys: String, CodingKey {
            case number
            case instanceId = "instance_id"
            case instanceType = "instance_type"
            case availabilityZone = "availability_zone"
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case exitStatus = "exit_status"
            case startStep = "start_step"
            case lastStep = "last_step"
            case lostSteps = "lost_steps"
        }
    }

    /// One spot notice answered with a checkpoint.
    struct Interruption: Codable, Equatable, Sendable {
        /// The attempt it ended.
        var attempt: Int
        /// Its instance.
        var instanceId: String
        /// When the notice was acted on.
        var time: Date
        /// The global step training stopped at.
        var stepAtNotice: Int
        /// The step of the emergency checkpoint (equal to ``stepAtNotice`` for exit 75).
        var checkpointStep: Int?
        /// ``stepAtNotice`` minus the step the next attempt resumed from (0 when nothing
        /// was lost); until the next attempt resumes, what the checkpoint implies.
        var lostSteps: Int?

        enum CodingKeys: String, CodingKey {
            case attempt
            case instanceId = "instance_id"
            case time
            case stepAtNotice = "step_at_notice"
            case checkpointStep = "checkpoint_step"
            case lostSteps = "lost_steps"
        }
    }

    /// The state.
    var state: State
    /// `job run` starts so far.
    var attempts: Int
    /// Every attempt, oldest first.
    var attemptHistory: [Attempt]
    /// Every interruption, oldest first.
    var interruptions: [Interruption]
    /// The newest global step recorded.
    var globalStep: Int?
    /// The epoch of ``globalStep`` (completed epochs at the end of an attempt).
    var epoch: Int?
    /// The newest checkpoint in the store (`s3://…`).
    var newestCheckpoint: String?
    /// The SHA-256 of the final weights, once the job has succeeded.
    var weightsSHA256: String?
    /// Why the job failed, or why the last attempt ended.
    var reason: String?
    /// When this object was written.
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case state, attempts
        case attemptHistory = "attempt_history"
        case interruptions
        case globalStep = "global_step"
        case epoch
        case newestCheckpoint = "newest_checkpoint"
        case weightsSHA256 = "weights_sha256"
        case reason
        case updatedAt = "updated_at"
    }

    /// The status of a job no instance has started.
    /// - Parameter now: The time.
    /// - Returns: `pending`, no attempts.
    static func pending(at now: Date) -> JobStatus {
        JobStatus(state: .pending, attempts: 0, attemptHistory: [], interruptions: [], globalStep: nil, epoch: nil,
                  newestCheckpoint: nil, weightsSHA256: nil, reason: nil, updatedAt: now)
    }

    /// Whether the job has ended for good (`succeeded` or `failed`).
    var isFinal: Bool { state == .succeeded || state == .failed }
}

/// The JSON coding of the job's objects: snake_case keys (declared), ISO 8601 dates, sorted
/// keys, pretty-printed.
enum JobJSON {
    /// An encoder for `job.json` and `status.json`.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// A decoder for `job.json` and `status.json`.
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
