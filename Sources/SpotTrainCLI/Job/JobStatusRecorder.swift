import Foundation
import SpotTrain

/// The status of a running attempt, and its updates while training: the resume step (written
/// before training starts) and each checkpoint that reaches the store, noticed by polling the
/// mirror's statistics from a background task and written from there — never on the training
/// thread.
final class JobStatusRecorder: @unchecked Sendable {
    /// How often the mirror's statistics are read.
    static let pollInterval: Duration = .seconds(2)

    private let lock = NSLock()
    private var current: JobStatus
    private let store: JobStore
    private let attempt: Int
    private var stepsPerEpoch: Int?
    private var task: Task<Void, Never>?

    /// Creates a recorder.
    /// - Parameters:
    ///   - status: The status as written at the start of the attempt.
    ///   - store: Where it is written.
    ///   - attempt: The attempt number.
    init(status: JobStatus, store: JobStore, attempt: Int) {
        current = status
        self.store = store
        self.attempt = attempt
    }

    /// The newest status.
    var status: JobStatus {
        lock.withLock { current }
    }

    /// Records the step training resumes from and writes the status (a failure to write is a
    /// warning: training goes on, the end writes it again).
    /// - Parameters:
    ///   - step: The global step resumed from (0 from scratch).
    ///   - stepsPerEpoch: Steps per epoch, to derive the epoch of later checkpoints.
    ///   - thread: The thread the write runs on.
    func resumed(fromStep step: Int, stepsPerEpoch: Int?, thread: CheckpointStoreThread) {
        let snapshot = lock.withLock {
            JobLifecycle.resumed(&current, attempt: attempt, fromStep: step, now: Date())
            self.stepsPerEpoch = stepsPerEpoch
            return current
        }
        let store = self.store
        do {
            try thread.run { try await store.write(snapshot) }
        } catch {
            printNotice("warning: job status: \(error); training goes on")
        }
    }

    /// Follows the mirror's uploads until ``stop()``.
    /// - Parameter mirror: The training run's mirror.
    func follow(_ mirror: CheckpointMirror) {
        task = Task.detached { [self] in
            var recorded = mirror.statistics.lastUploaded
            while true {
                // stop() cancels this wait; after it, nothing more is written.
                do { try await Task.sleep(for: Self.pollInterval) } catch { return }
                guard !Task.isCancelled else { return }
                guard let uploaded = mirror.statistics.lastUploaded, uploaded != recorded else { continue }
                recorded = uploaded
                let snapshot = lock.withLock {
                    JobLifecycle.checkpointStored(&current, attempt: attempt, step: uploaded.globalStep,
                                                  location: uploaded.location, stepsPerEpoch: stepsPerEpoch, now: Date())
                    return current
                }
                // The write runs in its own task, which stop()'s cancellation does not reach: a
                // cancelled request could still land at the store after the final status that
                // is written once stop() returns. stop() waits for it to complete instead.
                let store = self.store
                let write = Task.detached { try await store.write(snapshot) }
                do {
                    try await write.value
                } catch {
                    printNotice("warning: job status: \(error); training goes on")
                }
            }
        }
    }

    /// Stops following and waits for a write in progress to complete, so that a status written
    /// after this returns is the newest one in the store.
    func stop() {
        guard let task else { return }
        task.cancel()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await task.value
            done.signal()
        }
        done.wait()
        self.task = nil
    }
}
