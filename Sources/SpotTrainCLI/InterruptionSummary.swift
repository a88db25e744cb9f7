import Foundation
import SpotTrain

/// The `interruption` object of the `--summary` JSON: what stopped the run and how fast the
/// process got from the notice to its exit. `null` when the run was not interrupted.
struct InterruptionSummary: Encodable {
    /// `terminate`, `stop`, `hibernate` or `signal`.
    var kind: String
    /// Where it came from: `IMDS spot/instance-action`, `SIGTERM`, … .
    var reason: String
    /// The deadline (ISO 8601), or `nil` for a signal (and for a notice whose time could
    /// not be read).
    var deadline: String?
    /// Seconds from the end of handling (the emergency checkpoint written, found already
    /// written, or failed) to `deadline`: positive before it, negative after it (the save is
    /// attempted even past the deadline); `nil` without a deadline.
    var secondsBeforeDeadline: Double?
    /// When the process learned of it.
    var detectedAt: String
    /// When the training loop acted on it (after the batch in progress).
    var handledAt: String
    /// The global step training stopped at.
    var step: Int
    /// `saved`, `already_saved` or `save_failed`. The deadline never skips the save.
    var outcome: String
    /// Whether a checkpoint at `step` exists (exit 75) or not (exit 1).
    var checkpointCurrent: Bool
    /// Seconds spent writing the emergency checkpoint.
    var checkpointSeconds: Double
    /// Seconds from detection to the summary being written, just before exit.
    var noticeToExitSeconds: Double
    /// With an S3 store: what became of the checkpoint's upload (`uploaded`, `timed_out`,
    /// `failed`, or `not_queued`: this process never handed it to the mirror, because it is
    /// the checkpoint the run resumed from and the store held it at the start); `null` without a
    /// store.
    var upload: String?
    /// Where the checkpoint was stored (`s3://…`), when `upload` is `uploaded`.
    var uploadedTo: String?
    /// Seconds spent waiting for the upload before exiting.
    var uploadWaitSeconds: Double

    enum CodingKeys: String, CodingKey {
        case kind, reason, deadline, step, outcome
        case detectedAt = "detected_at"
        case handledAt = "handled_at"
        case checkpointCurrent = "checkpoint_current"
        case checkpointSeconds = "checkpoint_seconds"
        case noticeToExitSeconds = "notice_to_exit_seconds"
        case secondsBeforeDeadline = "seconds_before_deadline"
        case upload
        case uploadedTo = "uploaded_to"
        case uploadWaitSeconds = "upload_wait_seconds"
    }

    init(_ report: SpotInterruption.Report, exitAt: Date) {
        kind = report.request.kind.rawValue
        reason = report.request.reason
        deadline = report.request.deadline.map(InterruptionRequest.format)
        secondsBeforeDeadline = report.secondsBeforeDeadline
        detectedAt = InterruptionRequest.format(report.request.detectedAt)
        handledAt = InterruptionRequest.format(report.handledAt)
        step = report.globalStep
        outcome = report.outcomeName
        checkpointCurrent = report.checkpointIsCurrent
        checkpointSeconds = report.checkpointSeconds
        noticeToExitSeconds = exitAt.timeIntervalSince(report.request.detectedAt)
        upload = report.upload.map(CheckpointMirror.name(of:))
        if case .uploaded(let stored) = report.upload { uploadedTo = stored.location } else { uploadedTo = nil }
        uploadWaitSeconds = report.uploadWaitSeconds
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(reason, forKey: .reason)
        try c.encode(deadline, forKey: .deadline)
        try c.encode(secondsBeforeDeadline, forKey: .secondsBeforeDeadline)
        try c.encode(detectedAt, forKey: .detectedAt)
        try c.encode(handledAt, forKey: .handledAt)
        try c.encode(step, forKey: .step)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(checkpointCurrent, forKey: .checkpointCurrent)
        try c.encode(checkpointSeconds, forKey: .checkpointSeconds)
        try c.encode(noticeToExitSeconds, forKey: .noticeToExitSeconds)
        try c.encode(upload, forKey: .upload)
        try c.encode(uploadedTo, forKey: .uploadedTo)
        try c.encode(uploadWaitSeconds, forKey: .uploadWaitSeconds)
    }
}
