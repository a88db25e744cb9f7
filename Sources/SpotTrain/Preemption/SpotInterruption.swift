#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Turns an interruption (a spot notice, SIGTERM/SIGINT) into a durable checkpoint and a
/// clean stop with status ``TrainingStatus/interrupted``.
///
/// Register it *instead of* the ``ModelCheckpoint`` it wraps: it forwards every event to
/// that callback (so regular saves happen as before) and decides, around them, when an
/// interruption must be acted on. After every batch (and at every epoch end and at
/// `trainBegin`) it reads its ``InterruptionSource``; when an interruption is pending it
///
/// 1. reuses a checkpoint already written at this global step, or
/// 2. writes one through ``ModelCheckpoint/save(_:)`` (temp file, fsync, rename, fsync the
///    directory), unless the deadline makes that pointless: if the deadline has passed, or
///    the time left is less than the estimated save time × `safetyFactor`, it logs that it
///    is not saving and keeps the previous checkpoint (a save cut off by the machine going
///    away would only cost time; the previous file is intact either way);
/// 3. asks the loop to stop with ``TrainingStatus/interrupted``, and does not forward
///    `trainEnd`, so no further save starts.
///
/// The save time is estimated from ``ModelCheckpoint/lastSaveSeconds`` (the last measured
/// save), or `assumedSaveSeconds` before the first save. A failed emergency save is logged
/// and recorded; training stops regardless (the machine is going away) and every existing
/// checkpoint stays intact. ``report`` tells what happened; a supervisor should treat the
/// run as resumable without loss only if ``Report/checkpointIsCurrent``.
///
/// With `saveOnRebalance`, a rebalance recommendation triggers one early checkpoint (if
/// none exists at this step) and training continues.
public final class SpotInterruption: Callback {
    /// What happened to the checkpoint when an interruption was handled.
    public enum Outcome: Sendable, Equatable {
        /// A checkpoint was written for this step, taking `seconds`.
        case saved(CheckpointFile, seconds: Double)
        /// A regular save had already written this step.
        case alreadySaved(CheckpointFile)
        /// Not saved: `remainingSeconds` (≤ 0 once the deadline passed) was too short for
        /// a save estimated at `estimatedSaveSeconds`.
        case skippedForDeadline(remainingSeconds: Double, estimatedSaveSeconds: Double)
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

        /// Whether a checkpoint at ``globalStep`` exists, so that a restart loses nothing.
        public var checkpointIsCurrent: Bool {
            switch outcome {
            case .saved, .alreadySaved: true
            case .skippedForDeadline, .saveFailed: false
            }
        }

        /// Seconds spent writing the emergency checkpoint (0 if none was written).
        public var checkpointSeconds: Double {
            if case .saved(_, let seconds) = outcome { return seconds }
            return 0
        }

        /// A short machine-readable name of the outcome: `saved`, `already_saved`,
        /// `skipped_deadline` or `save_failed`.
        public var outcomeName: String {
            switch outcome {
            case .saved: "saved"
            case .alreadySaved: "already_saved"
            case .skippedForDeadline: "skipped_deadline"
            case .saveFailed: "save_failed"
            }
        }
    }

    /// Where interruptions come from.
    public let source: any InterruptionSource
    /// The checkpoint callback this one drives.
    public let checkpoint: ModelCheckpoint
    /// A save is attempted only if the time left exceeds the estimated save time × this.
    public let safetyFactor: Double
    /// The save-time estimate before any save was measured, in seconds.
    public let assumedSaveSeconds: Double
    /// Whether a rebalance recommendation triggers an early checkpoint.
    public let saveOnRebalance: Bool

    /// The handled interruption, once there is one.
    public private(set) var report: Report?
    /// Early checkpoints written because of rebalance recommendations.
    public private(set) var rebalanceSaves = 0

    /// The checkpoint the run resumed from: it already holds the state at its step.
    public let resumedCheckpoint: CheckpointFile?

    private var handledRebalance: InterruptionRequest?
    private let now: () -> Date
    private let log: (String) -> Void
    private let clock = ContinuousClock()

    /// Creates the callback.
    /// - Parameters:
    ///   - source: Where interruptions come from (an ``InterruptionFlag`` fed by signals
    ///     and a spot watcher, or a test's own).
    ///   - checkpoint: The checkpoint callback to drive; do not also register it.
    ///   - safetyFactor: Margin on the save-time estimate (default 2, must be ≥ 1).
    ///   - assumedSaveSeconds: The estimate before a save was measured (default 1 s).
    ///   - saveOnRebalance: Checkpoint early on a rebalance recommendation (default `true`).
    ///   - resumedCheckpoint: The checkpoint the run resumed from, if any; an interruption
    ///     before the first batch reuses it instead of writing the same state again.
    ///   - now: The wall clock that deadlines are compared with (injectable for tests).
    ///   - log: Receives one line per decision (default: standard error).
    public init(source: any InterruptionSource, checkpoint: ModelCheckpoint, safetyFactor: Double = 2,
                assumedSaveSeconds: Double = 1, saveOnRebalance: Bool = true,
                resumedCheckpoint: CheckpointFile? = nil, now: @escaping () -> Date = { Date() }, log: ((String) -> Void)? = nil) {
        precondition(safetyFactor >= 1, "SpotInterruption: safetyFactor \(safetyFactor) must be at least 1")
        precondition(assumedSaveSeconds >= 0, "SpotInterruption: assumedSaveSeconds \(assumedSaveSeconds) must not be negative")
        self.source = source
        self.checkpoint = checkpoint
        self.safetyFactor = safetyFactor
        self.assumedSaveSeconds = assumedSaveSeconds
        self.saveOnRebalance = saveOnRebalance
        self.resumedCheckpoint = resumedCheckpoint
        self.now = now
        self.log = log ?? { writeToStandardError("spottrain: " + $0 + "\n") }
    }

    /// The current estimate of how long a save takes, in seconds.
    public var estimatedSaveSeconds: Double { checkpoint.lastSaveSeconds ?? assumedSaveSeconds }

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
        var outcome: Outcome
        var file: CheckpointFile?
        let deadlineText = request.deadline.map { " with deadline \(InterruptionRequest.format($0))" } ?? ""
        log("interruption: \(request.kind.rawValue) from \(request.reason)\(deadlineText), acting on it at step \(step) "
            + String(format: "(%.3f s after it was detected)", lag))

        if let saved = checkpoint.lastSaved ?? resumedCheckpoint, saved.globalStep == step {
            outcome = .alreadySaved(saved)
            file = saved
            log("interruption: checkpoint \(saved.path) already holds step \(step); not saving again")
        } else if let remaining = request.secondsRemaining(at: handledAt),
                  remaining <= 0 || remaining < estimatedSaveSeconds * safetyFactor {
            let estimate = estimatedSaveSeconds
            outcome = .skippedForDeadline(remainingSeconds: remaining, estimatedSaveSeconds: estimate)
            file = newestCheckpoint()
            let why = remaining <= 0
                ? String(format: "the deadline passed %.1f s ago", -remaining)
                : String(format: "only %.2f s are left before the deadline and a save takes about %.2f s (safety factor %g)",
                         remaining, estimate, safetyFactor)
            log("error: interruption: NOT writing a checkpoint at step \(step): \(why); "
                + "keeping the previous checkpoint \(describe(file))")
        } else {
            let start = clock.now
            do {
                let saved = try checkpoint.save(context)
                let seconds = start.duration(to: clock.now).seconds
                outcome = .saved(saved, seconds: seconds)
                file = saved
                var line = "interruption: checkpoint \(saved.path) (step \(step)) written in " + String(format: "%.3f s", seconds)
                if let remaining = request.secondsRemaining(at: now()) {
                    line += String(format: ", %.1f s before the deadline", remaining)
                }
                log(line)
            } catch {
                outcome = .saveFailed(String(describing: error))
                file = newestCheckpoint()
                log("error: interruption: the emergency checkpoint at step \(step) failed: \(error); "
                    + "keeping the previous checkpoint \(describe(file))")
            }
        }
        let result = Report(request: source.pendingInterruption ?? request, globalStep: step, handledAt: handledAt,
                            outcome: outcome, checkpoint: file)
        report = result
        context.requestStop(.interrupted, reason: "\(request.kind.rawValue) (\(request.reason))")
    }

    private func handleRebalance(_ recommendation: InterruptionRequest, _ context: TrainingContext) {
        let step = context.globalStep
        if let saved = checkpoint.lastSaved, saved.globalStep == step {
            log("rebalance recommendation (\(recommendation.reason)): checkpoint \(saved.path) already holds step \(step)")
            return
        }
        do {
            let start = clock.now
            let saved = try checkpoint.save(context)
            rebalanceSaves += 1
            log("rebalance recommendation (\(recommendation.reason)): early checkpoint \(saved.path) written in "
                + String(format: "%.3f s", start.duration(to: clock.now).seconds) + "; training continues")
        } catch {
            log("warning: rebalance recommendation: early checkpoint at step \(step) failed: \(error); training continues")
        }
    }

    private func newestCheckpoint() -> CheckpointFile? {
        if let last = try? checkpoint.directory.list().last { return last }
        return checkpoint.lastSaved
    }

    private func describe(_ file: CheckpointFile?) -> String {
        guard let file else { return "(none: a restart starts from scratch)" }
        return "\(file.path) (step \(file.globalStep))"
    }
}
