import Foundation

/// The rules of a job's status, as pure functions of the status, the spec, the instance
/// and the clock: what `job run` records at its start, when training resumed, when a
/// checkpoint reached the store and when training ended, and what it does then (exit status,
/// whether the group's desired capacity goes to 0). `JobRunCommand` does the I/O.
enum JobLifecycle {
    /// The instance an attempt runs on (from IMDS).
    struct Instance: Equatable, Sendable {
        /// The instance id.
        var id: String
        /// The instance type.
        var type: String
        /// The Availability Zone.
        var availabilityZone: String
    }

    /// What to do at the start of `job run`.
    enum Start: Equatable {
        /// Train; the status records the new attempt (state `running`).
        case train(JobStatus, attempt: Int)
        /// Do not train: a limit ended the job (state `failed`, the reason set); stop the
        /// group and exit with the status.
        case stop(JobStatus, exitStatus: Int32)
        /// The job already ended (a replacement launched before the group shrank): stop the
        /// group again and exit 0, changing nothing.
        case alreadyEnded(JobStatus)
    }

    /// What to do at the end of `job run`.
    struct Decision: Equatable {
        /// The status to write.
        var status: JobStatus
        /// Whether to set the group's desired capacity (and minimum) to 0.
        var stopGroup: Bool
        /// The exit status of `job run`.
        var exitStatus: Int32
    }

    /// How the training run of an attempt ended, as its summary and ending tell it.
    struct RunResult: Equatable {
        /// The exit status of the training session (0, 1, 64, 75, 78).
        var exitStatus: Int32
        /// The global step training stopped at (nil when it never started).
        var globalStep: Int?
        /// Completed epochs.
        var epochsCompleted: Int?
        /// The SHA-256 of the final weights.
        var weightsSHA256: String?
        /// The newest checkpoint in the store (`s3://…`).
        var storedCheckpoint: String?
        /// For an interruption: the step training stopped at and whether a checkpoint of it
        /// exists.
        var interruptedAtStep: Int?
        /// Why the run did not finish (the error line), nil for 0.
        var reason: String?
    }

    /// The start of an attempt: checks the limits (`max_hours` since `created_at`,
    /// `max_interruptions`), counts the attempt and records it as running.
    /// - Parameters:
    ///   - status: The status read from the store (``JobStatus/pending(at:)`` if none).
    ///   - spec: The job's spec.
    ///   - instance: This instance.
    ///   - now: The time.
    /// - Returns: What to do.
    static func start(_ status: JobStatus, spec: JobSpec, instance: Instance, now: Date) -> Start {
        if status.isFinal { return .alreadyEnded(status) }
        var next = status
        next.attempts += 1
        let number = next.attempts
        next.attemptHistory.append(JobStatus.Attempt(number: number, instanceId: instance.id, instanceType: instance.type,
                                                     availabilityZone: instance.availabilityZone, startedAt: now,
                                                     endedAt: nil, exitStatus: nil, startStep: nil,
                                                     lastStep: nil, lostSteps: nil))
        next.updatedAt = now
        if let reason = limitReached(status, spec: spec, now: now) {
            next.state = .failed
            next.reason = reason
            let index = next.attemptHistory.count - 1
            next.attemptHistory[index].endedAt = now
            next.attemptHistory[index].exitStatus = ExitStatus.configuration
            return .stop(next, exitStatus: ExitStatus.configuration)
        }
        next.state = .running
        next.reason = nil
        return .train(next, attempt: number)
    }

    /// Why the job must not train any more, or nil.
    /// - Parameters:
    ///   - status: The status.
    ///   - spec: The spec (its limits).
    ///   - now: The time.
    /// - Returns: The reason naming the limit.
    static func limitReached(_ status: JobStatus, spec: JobSpec, now: Date) -> String? {
        if let maxHours = spec.maxHours {
            let hours = now.timeIntervalSince(spec.createdAt) / 3600
            if hours >= maxHours {
                return String(format: "the job has run for %.2f h since %@, reaching its max_hours %g",
                              hours, ISO8601DateFormatter().string(from: spec.createdAt), maxHours)
            }
        }
        if let maxInterruptions = spec.maxInterruptions, status.interruptions.count >= maxInterruptions {
            return "the job was interrupted \(status.interruptions.count) times, reaching its max_interruptions \(maxInterruptions)"
        }
        return nil
    }

    /// Training of attempt `attempt` resumed from `step` (0: from scratch): records the
    /// attempt's start step and the work the previous attempt lost (its stop step, or last
    /// recorded step, minus `step`).
    /// - Parameters:
    ///   - status: The status.
    ///   - attempt: The attempt number.
    ///   - step: The global step resumed from.
    ///   - now: The time.
    static func resumed(_ status: inout JobStatus, attempt: Int, fromStep step: Int, now: Date) {
        guard let index = status.attemptHistory.firstIndex(where: { $0.number == attempt }) else { return }
        status.attemptHistory[index].startStep = step
        status.attemptHistory[index].lastStep = step
        if index > 0 {
            let previous = status.attemptHistory[index - 1]
            if let interruption = status.interruptions.lastIndex(where: { $0.attempt == previous.number }) {
                status.interruptions[interruption].lostSteps = max(0, status.interruptions[interruption].stepAtNotice - step)
            } else if let last = previous.lastStep {
                status.attemptHistory[index - 1].lostSteps = max(0, last - step)
            }
        }
        status.globalStep = step
        status.updatedAt = now
    }

    /// A checkpoint of attempt `attempt` reached the store.
    /// - Parameters:
    ///   - status: The status.
    ///   - attempt: The attempt number.
    ///   - step: Its global step.
    ///   - location: Its `s3://` location.
    ///   - stepsPerEpoch: Steps in one epoch, to derive the epoch (nil: left as it is).
    ///   - now: The time.
    static func checkpointStored(_ status: inout JobStatus, attempt: Int, step: Int, location: String,
                                 stepsPerEpoch: Int?, now: Date) {
        if let index = status.attemptHistory.firstIndex(where: { $0.number == attempt }) {
            status.attemptHistory[index].lastStep = max(status.attemptHistory[index].lastStep ?? 0, step)
        }
        status.globalStep = step
        status.newestCheckpoint = location
        if let stepsPerEpoch, stepsPerEpoch > 0 { status.epoch = step / stepsPerEpoch }
        status.updatedAt = now
    }

    /// The end of attempt `attempt`:
    /// - 0: `succeeded` with the final `weights_sha256`; the group stops; exit 0.
    /// - 64 or 78: `failed` with the reason; the group stops; exit with that status.
    /// - 75: the interruption is recorded, `recovering`; when the interruptions reach
    ///   `max_interruptions`, `failed` and the group stops; exit 75.
    /// - anything else (1): `recovering` with the reason; exit with that status.
    /// - Parameters:
    ///   - status: The status.
    ///   - spec: The spec.
    ///   - attempt: The attempt number.
    ///   - result: How training ended.
    ///   - now: The time.
    /// - Returns: The decision.
    static func end(_ status: JobStatus, spec: JobSpec, attempt: Int, result: RunResult, now: Date) -> Decision {
        var next = status
        next.updatedAt = now
        let index = next.attemptHistory.firstIndex(where: { $0.number == attempt })
        if let index {
            next.attemptHistory[index].endedAt = now
            next.attemptHistory[index].exitStatus = result.exitStatus
            if let step = result.globalStep { next.attemptHistory[index].lastStep = step }
        }
        if let step = result.globalStep { next.globalStep = step }
        if let epochs = result.epochsCompleted { next.epoch = epochs }
        if let stored = result.storedCheckpoint { next.newestCheckpoint = stored }
        switch result.exitStatus {
        case ExitStatus.success:
            next.state = .succeeded
            next.weightsSHA256 = result.weightsSHA256
            next.reason = nil
            return Decision(status: next, stopGroup: true, exitStatus: ExitStatus.success)
        case ExitStatus.usage, ExitStatus.configuration:
            next.state = .failed
            next.reason = result.reason ?? "spottrain train exited \(result.exitStatus)"
            return Decision(status: next, stopGroup: true, exitStatus: result.exitStatus)
        case ExitStatus.interrupted:
            let step = result.interruptedAtStep ?? result.globalStep ?? 0
            next.interruptions.append(JobStatus.Interruption(
                attempt: attempt, instanceId: index.map { next.attemptHistory[$0].instanceId } ?? "unknown",
                time: now, stepAtNotice: step, checkpointStep: step, lostSteps: 0))
            next.reason = result.reason
            if let maxInterruptions = spec.maxInterruptions, next.interruptions.count >= maxInterruptions {
                next.state = .failed
                next.reason = "the job was interrupted \(next.interruptions.count) times, reaching its max_interruptions \(maxInterruptions)"
                return Decision(status: next, stopGroup: true, exitStatus: ExitStatus.interrupted)
            }
            next.state = .recovering
            return Decision(status: next, stopGroup: false, exitStatus: ExitStatus.interrupted)
        default:
            next.state = .recovering
            next.reason = result.reason ?? "spottrain train exited \(result.exitStatus)"
            return Decision(status: next, stopGroup: false, exitStatus: result.exitStatus)
        }
    }
}
