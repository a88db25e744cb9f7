#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// Turns an interruption (a spot notice, SIGTERM/SIGINT) into a durable checkpoint and a
/// clean stop with status ``TrainingStatus/interrupted``.
///
/// Register it *instead of* the ``ModelCheckpoint`` it wraps: it forwards every event to
/// that callback (so regular saves happen as before) and decides, around them, when an
/// interruption must be acted on. After every batch (and at every epoch end and at
/// `trainBegin`) it reads its ``InterruptionSource``; when an interruption is pending it
///
/// 1. reuses a checkpoint already written at this global step, or
/// 2. asks the checkpoint's ``CheckpointManager`` for the emergency save
///    (``CheckpointManager/saveNow(reason:)``: temp file, fsync, rename, fsync the
///    directory), *whatever the deadline says*;
/// 3. asks the loop to stop with ``TrainingStatus/interrupted``, and does not forward
///    `trainEnd`, so no further save starts.
///
/// The deadline never prevents the emergency save. A save is atomic, so one cut off by the
/// machine going away costs nothing (the previous checkpoint stays intact), while a save
/// skipped on a process that is in fact still running loses every step since the previous
/// checkpoint; and a process still running after its deadline is itself evidence that the
/// deadline (or the local clock) is wrong. The deadline only feeds the log: a warning when it
/// has passed, or when the time left is shorter than the last measured save
/// (``ModelCheckpoint/lastSaveSeconds``), and the margin the save ended with
/// (``Report/secondsBeforeDeadline``).
///
/// A failed emergency save is logged and recorded; training stops regardless (the machine is
/// going away) and every existing checkpoint stays intact. ``report`` tells what happened; a
/// supervisor should treat the run as resumable without loss only if
/// ``Report/checkpointIsCurrent``.
///
/// With `saveOnRebalance`, a rebalance recommendation triggers one early checkpoint (if
/// none exists at this step) and training continues.
///
/// With a ``ModelCheckpoint/mirror``, the emergency checkpoint's upload is awaited before the
/// loop is asked to stop, until `uploadMargin` seconds before the deadline (or for
/// `uploadWaitWithoutDeadline` seconds after a signal, which has none); ``Report/upload``
/// says whether it is in the store. If it does not fit, the run stops with the local
/// checkpoint (which a restart on the same disk resumes from).
public final class SpotInterruption: Callback {
    /// What happened to the checkpoint when an interruption was handled.
    public enum Outcome: Sendable, Equatable {
        /// A checkpoint was written for this step, taking `seconds`.
        case saved(CheckpointFile, seconds: Double)
        /// A regular save had already written this step.
        case alreadySaved(CheckpointFile)
        /// The save failed with this error description.
        case saveFailed(String)
    }

    /// The record of a handled interruption.
    public struct Report: Sendable, Equatable {
        /// The request acted on (its deadline as known when acted on).
        public var request: InterruptionRequest
        /// The global step training stopped at.
        public var globalStep: Int
        /// When it was acted on (after the batch in progress finished).
        public var handledAt: Date
        /// What happened to the checkpoint.
        public var outcome: Outcome
        /// The newest checkpoint on disk after handling: the one written or reused, else the
        /// previous one (which a restart resumes from), if any.
        public var checkpoint: CheckpointFile?
        /// Seconds from the end of handling (the emergency checkpoint written, found already
        /// written, or failed) to the deadline of ``request``: positive when handling ended
        /// before the deadline, negative after it; `nil` when the request has no deadline.
        public var secondsBeforeDeadline: Double?
        /// What became of the checkpoint's upload to the mirror (nil without a mirror or
        /// without a checkpoint).
        public var upload: CheckpointMirror.UploadResult?
        /// Seconds spent waiting for that upload.
        public var uploadWaitSeconds: Double = 0

        /// Whether a checkpoint at ``globalStep`` exists, so that a restart loses nothing.
        public var checkpointIsCurrent: Bool {
            switch outcome {
            case .saved, .alreadySaved: true
            case .saveFailed: false
            }
        }

        /// Seconds spent writing the emergency checkpoint (0 if none was written).
        public var checkpointSeconds: Double {
            if case .saved(_, let seconds) = outcome { return seconds }
            return 0
        }

        /// A short machine-readable name of the outcome: `saved`, `already_saved` or
        /// `save_failed`.
        public var outcomeName: String {
            switch outcome {
            case .saved: "saved"
            case .alreadySaved: "already_saved"
            case .saveFailed: "save_failed"
            }
        }
    }

    /// Where interruptions come from.
    public let source: any InterruptionSource
    /// The checkpoint callback this one drives.
    public let checkpoint: ModelCheckpoint
    /// The manager that writes the regular and the emergency saves (``ModelCheckpoint/manager``).
    public var manager: CheckpointManager { checkpoint.manager }
    /// Whether a rebalance recommendation triggers an early checkpoint.
    public let saveOnRebalance: Bool

    /// The handled interruption, once there is one.
    public private(set) var report: Report?
    /// Early checkpoints written because of rebalance recommendations.
    public private(set) var rebalanceSaves = 0

    /// The checkpoint the run resumed from: it already holds the state at its step.
    public let resumedCheckpoint: CheckpointFile?
    /// Seconds before the deadline at which waiting for the emergency upload stops (left
    /// for exiting).
    public let uploadMargin: Double
    /// How long to wait for the emergency upload after a request without a deadline (a
    /// signal), in seconds.
    public let uploadWaitWithoutDeadline: Double

    private var handledRebalance: InterruptionRequest?
    private let now: () -> Date
    private let logger: Logger
    private let clock = ContinuousClock()

    /// Creates the callback.
    /// - Parameters:
    ///   - source: Where interruptions come from (an ``InterruptionFlag`` fed by signals
    ///     and a spot watcher, or a test's own).
    ///   - checkpoint: The checkpoint callback to drive; do not also register it.
    ///   - saveOnRebalance: Checkpoint early on a rebalance recommendation (default `true`).
    ///   - resumedCheckpoint: The checkpoint the run resumed from, if any; an interruption
    ///     before the first batch reuses it instead of writing the same state again.
    ///   - uploadMargin: With a mirror, stop waiting for the emergency upload this many
    ///     seconds before the deadline (default 5).
    ///   - uploadWaitWithoutDeadline: With a mirror, wait this long for the emergency upload
    ///     after a signal (default 30 s; systemd's stop timeout is 90 s).
    ///   - now: The wall clock that deadlines are compared with (injectable for tests).
    ///   - logger: Receives one event per decision: `notice` for the interruption and what
    ///     was done, `warning`/`error` when the deadline or a save or upload is in danger;
    ///     default: a logger labelled `spottrain.interruption` from the bootstrapped
    ///     `LoggingSystem`.
    public init(source: any InterruptionSource, checkpoint: ModelCheckpoint, saveOnRebalance: Bool = true,
                resumedCheckpoint: CheckpointFile? = nil, uploadMargin: Double = 5, uploadWaitWithoutDeadline: Double = 30,
                now: @escaping () -> Date = { Date() }, logger: Logger? = nil) {
        self.uploadMargin = uploadMargin
        self.uploadWaitWithoutDeadline = uploadWaitWithoutDeadline
        self.source = source
        // A notice that arrives while the run's final upload is awaited bounds that wait.
        checkpoint.stopWaitingForUploads = { [source, now] in
            guard let request = source.pendingInterruption else { return nil }
            let budget = request.secondsRemaining(at: now()).map { $0 - uploadMargin } ?? uploadWaitWithoutDeadline
            return max(0, budget)
        }
        self.checkpoint = checkpoint
        self.saveOnRebalance = saveOnRebalance
        self.resumedCheckpoint = resumedCheckpoint
        self.now = now
        self.logger = logger ?? Logger(label: Logger.SpotTrainLabel.interruption)
    }

    // MARK: Events

    public func trainBegin(_ context: TrainingContext) throws {
        try checkpoint.trainBegin(context)
        // A notice may already be pending (it arrived while data and the checkpoint loaded).
        check(context)
    }

    public func epochBegin(_ context: TrainingContext) throws {
        try checkpoint.epochBegin(context)
    }

    public func batchBegin(_ context: TrainingContext) throws {
        try checkpoint.batchBegin(context)
    }

    public func batchEnd(_ context: TrainingContext) throws {
        // Act before a regular save would start, and again after one (a notice that arrived
        // during it can reuse it).
        if check(context) { return }
        try checkpoint.batchEnd(context)
        check(context)
    }

    public func epochEnd(_ context: TrainingContext) throws {
        guard report == nil else { return }
        try checkpoint.epochEnd(context)
        check(context)
    }

    public func trainEnd(_ context: TrainingContext) throws {
        // After an interruption no further save may start.
        guard report == nil else { return }
        try checkpoint.trainEnd(context)
    }

    // MARK: Decisions

    /// Acts on a pending interruption or a new rebalance recommendation.
    /// - Returns: `true` if training is being stopped.
    @discardableResult
    private func check(_ context: TrainingContext) -> Bool {
        if report != nil { return true }
        if let request = source.pendingInterruption {
            handleInterruption(request, context)
            return true
        }
        if saveOnRebalance, let recommendation = source.rebalanceRecommendation, recommendation != handledRebalance {
            handledRebalance = recommendation
            handleRebalance(recommendation, context)
        }
        return false
    }

    private func handleInterruption(_ request: InterruptionRequest, _ context: TrainingContext) {
        let step = context.globalStep
        let handledAt = now()
        let lag = handledAt.timeIntervalSince(request.detectedAt)
        let outcome: Outcome
        let file: CheckpointFile?
        let deadlineText = request.deadline.map { " with deadline \(InterruptionRequest.format($0))" } ?? ""
        var requestMetadata: Logger.Metadata = ["kind": "\(request.kind.rawValue)", "reason": "\(request.reason)",
                                                "step": "\(step)"]
        if let deadline = request.deadline { requestMetadata["deadline"] = "\(InterruptionRequest.format(deadline))" }
        let message = "interruption: \(request.kind.rawValue) from \(request.reason)\(deadlineText), acting on it at step \(step) "
            + "\(String(format: "(%.3f s after it was detected)", lag))"
        logger.notice("\(message)", metadata: requestMetadata)

        if let saved = manager.lastSaved ?? resumedCheckpoint, saved.globalStep == step {
            outcome = .alreadySaved(saved)
            file = saved
            logger.notice("interruption: checkpoint \(saved.path) already holds step \(step); not saving again",
                          metadata: ["path": "\(saved.path)", "step": "\(step)"])
        } else {
            warnAboutDeadline(request, at: handledAt, step: step)
            let start = clock.now
            do {
                let saved = try manager.saveNow(reason: "interruption: \(request.kind.rawValue)")
                let seconds = start.duration(to: clock.now).seconds
                outcome = .saved(saved, seconds: seconds)
                file = saved
            } catch {
                outcome = .saveFailed(String(describing: error))
                file = newestCheckpoint()
                var metadata = Logger.Metadata.describing(error).merging(["step": "\(step)"])
                if let file { metadata["kept_path"] = "\(file.path)" }
                let message = "interruption: the emergency checkpoint at step \(step) failed: \(error); "
                    + "keeping the previous checkpoint \(describe(file))"
                logger.error("\(message)", metadata: metadata)
            }
        }
        // The deadline as known now: a notice with an earlier one may have arrived meanwhile.
        let acted = source.pendingInterruption ?? request
        let margin = acted.secondsRemaining(at: now())
        if case .saved(let saved, let seconds) = outcome {
            var metadata: Logger.Metadata = ["path": "\(saved.path)", "step": "\(step)",
                                             "seconds": "\(String(format: "%.3f", seconds))"]
            if let margin { metadata["seconds_before_deadline"] = "\(String(format: "%.1f", margin))" }
            let marginText = margin.map { ", " + Self.describeMargin($0) } ?? ""
            let message = "interruption: checkpoint \(saved.path) (step \(step)) written in "
                + "\(String(format: "%.3f s", seconds))\(marginText)"
            logger.notice("\(message)", metadata: metadata)
        }
        report = Report(request: acted, globalStep: step, handledAt: handledAt, outcome: outcome, checkpoint: file,
                        secondsBeforeDeadline: margin)
        if let mirror = manager.mirror, let file {
            let waitStart = clock.now
            let budget = margin.map { $0 - uploadMargin } ?? uploadWaitWithoutDeadline
            let waitDeadline = Date().addingTimeInterval(max(0, budget))
            var result = mirror.wait(for: file, timeout: max(0, budget))
            if case .failed = result, !mirror.statistics.lastFailureRefused, waitDeadline.timeIntervalSinceNow > 1 {
                logger.warning("interruption: the upload of \(file.name) failed; trying again in the time left",
                               metadata: ["checkpoint": "\(file.name)", "location": "\(mirror.store.location)"])
                mirror.enqueue(file)
                result = mirror.wait(for: file, timeout: waitDeadline.timeIntervalSinceNow)
            }
            report?.upload = result
            report?.uploadWaitSeconds = waitStart.duration(to: clock.now).seconds
            switch result {
            case .uploaded(let stored):
                let message = "interruption: checkpoint \(file.name) is in \(stored.location) "
                    + "\(String(format: "(waited %.3f s for the upload)", report?.uploadWaitSeconds ?? 0))"
                logger.notice("\(message)",
                              metadata: ["checkpoint": "\(file.name)", "location": "\(stored.location)"])
            case .notQueued:
                break
            default:
                let message = "interruption: checkpoint \(file.name) is NOT in \(mirror.store.location) "
                    + "(\(CheckpointMirror.describe(result))); exiting with the local checkpoint \(file.path)"
                logger.warning("\(message)",
                               metadata: ["checkpoint": "\(file.name)", "location": "\(mirror.store.location)",
                                          "path": "\(file.path)", "upload": "\(CheckpointMirror.name(of: result))"])
            }
        }
        context.requestStop(.interrupted, reason: "\(request.kind.rawValue) (\(request.reason))")
    }

    /// Logs a warning when the deadline has passed, or is closer than the last measured save
    /// takes; the save is attempted all the same (see the type's documentation).
    private func warnAboutDeadline(_ request: InterruptionRequest, at handledAt: Date, step: Int) {
        guard let remaining = request.secondsRemaining(at: handledAt) else { return }
        if remaining <= 0 {
            let text = String(format: "interruption: the deadline passed %.1f s ago but this process is still running "
                              + "(the deadline or the local clock is wrong); saving anyway: ", -remaining)
            logger.warning("\(text)\(Self.atomicSaveNote(step: step))",
                           metadata: ["step": "\(step)", "seconds_before_deadline": "\(String(format: "%.1f", remaining))"])
        } else if let estimate = manager.lastSaveSeconds, remaining < estimate {
            let text = String(format: "interruption: only %.2f s are left before the deadline and the last save took %.2f s; "
                              + "saving anyway: ", remaining, estimate)
            logger.warning("\(text)\(Self.atomicSaveNote(step: step))",
                           metadata: ["step": "\(step)", "seconds_before_deadline": "\(String(format: "%.2f", remaining))",
                                      "last_save_seconds": "\(String(format: "%.2f", estimate))"])
        }
    }

    /// Why saving past (or close to) the deadline is safe.
    private static func atomicSaveNote(step: Int) -> String {
        "writing the checkpoint of step \(step) is atomic, so the previous checkpoint stays intact if the machine goes away first"
    }

    /// `12.3 s before the deadline` or `4.5 s after the deadline`.
    private static func describeMargin(_ secondsBeforeDeadline: Double) -> String {
        secondsBeforeDeadline >= 0
            ? String(format: "%.1f s before the deadline", secondsBeforeDeadline)
            : String(format: "%.1f s after the deadline", -secondsBeforeDeadline)
    }

    private func handleRebalance(_ recommendation: InterruptionRequest, _ context: TrainingContext) {
        let step = context.globalStep
        if let saved = manager.lastSaved, saved.globalStep == step {
            logger.notice("rebalance recommendation (\(recommendation.reason)): checkpoint \(saved.path) already holds step \(step)",
                          metadata: ["reason": "\(recommendation.reason)", "path": "\(saved.path)", "step": "\(step)"])
            return
        }
        do {
            let start = clock.now
            let saved = try manager.saveNow(reason: "rebalance recommendation")
            rebalanceSaves += 1
            let seconds = String(format: "%.3f s", start.duration(to: clock.now).seconds)
            let message = "rebalance recommendation (\(recommendation.reason)): early checkpoint \(saved.path) written in "
                + "\(seconds); training continues"
            logger.notice("\(message)",
                          metadata: ["reason": "\(recommendation.reason)", "path": "\(saved.path)", "step": "\(step)"])
        } catch {
            logger.warning("rebalance recommendation: early checkpoint at step \(step) failed: \(error); training continues",
                           metadata: Logger.Metadata.describing(error).merging(
                               ["reason": "\(recommendation.reason)", "step": "\(step)"]))
        }
    }

    private func newestCheckpoint() -> CheckpointFile? {
        if let last = try? manager.directory.list().last { return last }
        return manager.lastSaved
    }

    private func describe(_ file: CheckpointFile?) -> String {
        guard let file else { return "(none: a restart starts from scratch)" }
        return "\(file.path) (step \(file.globalStep))"
    }
}
