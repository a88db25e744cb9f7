import Dispatch
#if canImport(Foundation)
import Foundation
#endif
import Logging

/// Copies a run's checkpoints into a ``CheckpointStore`` (an S3 bucket, another disk) off
/// the training thread.
///
/// ``ModelCheckpoint`` hands it every checkpoint it writes (``enqueue(_:)``, which only takes
/// a lock). One upload runs at a time, on a ``CheckpointStoreThread``. If saves come faster
/// than the network takes them, only the newest pending checkpoint is kept: an older one that
/// has not started is dropped (``UploadResult/superseded``), so training never waits for the
/// network and the store always catches up with the newest state.
///
/// Each upload reads the local file, verifies it completely (CRCs, structure, name against
/// content) so that a damaged file is never copied, and stores it through
/// ``CheckpointStore/put(_:bytes:)``, which verifies the transfer end to end. A failed upload
/// is retried (`attempts` in all, with backoff), then counted in ``Statistics/failures``;
/// training goes on, and the next checkpoint is uploaded as usual. After every completed
/// upload, `keep` bounds the store like the local directory: the newest `keep` checkpoints
/// by step stay, never the one just uploaded is removed.
///
/// ``wait(for:timeout:)`` blocks until one checkpoint is stored (the end of a run, an
/// emergency save before its deadline).
public final class CheckpointMirror: @unchecked Sendable {
    /// What became of one checkpoint's upload.
    public enum UploadResult: Sendable, Equatable {
        /// It is in the store.
        case uploaded(StoredCheckpoint)
        /// Every attempt failed; the last error's description.
        case failed(String)
        /// A newer checkpoint was handed over before its upload started; it was not uploaded.
        case superseded
        /// ``CheckpointMirror/wait(for:timeout:)`` gave up before the upload ended (it goes on).
        case timedOut
        /// It was never handed to the mirror.
        case notQueued
    }

    /// Counters of a mirror's work so far.
    public struct Statistics: Sendable, Equatable {
        /// Completed uploads.
        public var uploads = 0
        /// Uploads that failed after every attempt.
        public var failures = 0
        /// Checkpoints dropped because a newer one arrived before their upload started.
        public var superseded = 0
        /// Seconds spent uploading (reading, verifying, transferring), completed uploads only.
        public var uploadSeconds = 0.0
        /// The newest checkpoint stored by this mirror.
        public var lastUploaded: StoredCheckpoint?
        /// The description of the last failure, if any.
        public var lastError: String?
        /// Whether the last failure was a refusal (``CheckpointStoreError/Code/refused``),
        /// which another attempt would meet again.
        public var lastFailureRefused = false
    }

    /// The store checkpoints are copied to.
    public let store: any CheckpointStore
    /// The local directory the checkpoints are read from.
    public let directory: CheckpointDirectory
    /// Keep at most this many checkpoints in the store.
    public let keep: Int?
    /// Upload attempts per checkpoint (at least 1).
    public let attempts: Int
    /// The thread store work runs on.
    public let thread: CheckpointStoreThread

    private let condition = NSCondition()
    private var pending: CheckpointFile?
    private var inFlight: CheckpointFile?
    private var results: [String: UploadResult] = [:]
    private var counters = Statistics()
    private var waiter: CheckedContinuation<CheckpointFile?, Never>?
    private var stopped = false
    private var pruning = false
    private let logger: Logger
    private let retryDelay: Duration
    /// Whether the mirror created its thread (and so ends it when its worker stops).
    private let ownsThread: Bool

    /// Creates the mirror and starts its worker.
    /// - Parameters:
    ///   - store: Where to copy checkpoints.
    ///   - directory: The local checkpoint directory they are written to.
    ///   - keep: Keep the newest K checkpoints in the store (nil: keep all).
    ///   - attempts: Upload attempts per checkpoint (default 3; the store may retry each
    ///     request itself as well).
    ///   - retryDelay: The pause before the second attempt, doubled for each further one.
    ///   - thread: The thread for store work (default: a new one, ended by ``stop()``).
    ///   - logger: Receives a `warning` per retried upload or failed pruning and an `error`
    ///     per checkpoint that could not be uploaded; default: a logger labelled
    ///     `spottrain.store` from the bootstrapped `LoggingSystem`.
    public init(store: any CheckpointStore, directory: CheckpointDirectory, keep: Int? = nil, attempts: Int = 3,
                retryDelay: Duration = .seconds(1), thread: CheckpointStoreThread? = nil,
                logger: Logger? = nil) {
        precondition(keep == nil || keep! > 0, "CheckpointMirror: keep must be positive")
        precondition(attempts >= 1, "CheckpointMirror: attempts must be at least 1")
        self.store = store
        self.directory = directory
        self.keep = keep
        self.attempts = attempts
        self.retryDelay = retryDelay
        self.thread = thread ?? CheckpointStoreThread()
        self.ownsThread = thread == nil
        self.logger = logger ?? Logger(label: Logger.SpotTrainLabel.store)
        Task(executorPreference: self.thread) { await self.work() }
    }

    /// Counters so far.
    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return counters
    }

    // MARK: Handing over

    /// Schedules `file` for upload and returns at once. A pending checkpoint whose upload has
    /// not started is dropped in its favour (``UploadResult/superseded``).
    /// - Parameter file: A checkpoint just written to ``directory``.
    public func enqueue(_ file: CheckpointFile) {
        condition.lock()
        if stopped {
            results[file.name] = .failed("the mirror was stopped")
            condition.broadcast()
            condition.unlock()
            return
        }
        if let older = pending, older.name != file.name {
            results[older.name] = .superseded
            counters.superseded += 1
        }
        results[file.name] = nil
        if let waiting = waiter {
            waiter = nil
            inFlight = file
            condition.broadcast()
            condition.unlock()
            waiting.resume(returning: file)
            return
        }
        pending = file
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the worker once the upload in flight (if any) ends; a pending one is dropped.
    /// Call ``wait(for:timeout:)`` first for a checkpoint that must be stored.
    public func stop() {
        condition.lock()
        stopped = true
        if let dropped = pending {
            results[dropped.name] = .failed("the mirror was stopped before the upload started")
            pending = nil
        }
        let waiting = waiter
        waiter = nil
        condition.broadcast()
        condition.unlock()
        waiting?.resume(returning: nil)
    }

    // MARK: Waiting

    /// Blocks until the upload of `file` ends, or `timeout` seconds pass.
    ///
    /// Call it from a synchronous thread (the training loop's), not from
    /// ``CheckpointStoreThread``.
    /// - Parameters:
    ///   - file: A checkpoint handed to ``enqueue(_:)``.
    ///   - timeout: The longest wait in seconds; nil waits until the upload ends (each store
    ///     request has its own deadline, so this is bounded too).
    /// - Returns: ``UploadResult/uploaded(_:)``, ``UploadResult/failed(_:)``,
    ///   ``UploadResult/superseded``, ``UploadResult/notQueued`` (never handed over), or
    ///   ``UploadResult/timedOut``.
    public func wait(for file: CheckpointFile, timeout: Double? = nil) -> UploadResult {
        let deadline = timeout.map { Date().addingTimeInterval(max(0, $0)) }
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let result = results[file.name] { return result }
            let queued = pending?.name == file.name || inFlight?.name == file.name
            if !queued { return .notQueued }
            if let deadline {
                if !condition.wait(until: deadline) {
                    return results[file.name] ?? .timedOut
                }
            } else {
                condition.wait()
            }
        }
    }

    /// Blocks until nothing is pending, in flight or being pruned (the store holds at most
    /// `keep` checkpoints then), or `timeout` seconds pass.
    /// - Parameter timeout: The longest wait in seconds.
    /// - Returns: Whether the mirror became idle in time.
    @discardableResult
    public func drain(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(max(0, timeout))
        condition.lock()
        defer { condition.unlock() }
        while pending != nil || inFlight != nil || pruning {
            if !condition.wait(until: deadline) { return pending == nil && inFlight == nil && !pruning }
        }
        return true
    }

    // MARK: Worker

    private func next() async -> CheckpointFile? {
        await withCheckedContinuation { (continuation: CheckedContinuation<CheckpointFile?, Never>) in
            take(continuation)
        }
    }

    /// Hands the worker the pending checkpoint, nil when stopped, or parks it until
    /// ``enqueue(_:)`` or ``stop()``.
    private func take(_ continuation: CheckedContinuation<CheckpointFile?, Never>) {
        condition.lock()
        if let file = pending {
            pending = nil
            inFlight = file
            condition.unlock()
            continuation.resume(returning: file)
        } else if stopped {
            condition.unlock()
            continuation.resume(returning: nil)
        } else {
            waiter = continuation
            condition.unlock()
        }
    }

    private func work() async {
        while let file = await next() {
            let result = await upload(file)
            // Published before pruning, so that an emergency wait is not spent on it; a run
            // that ends normally calls drain() to leave the store at `keep` checkpoints.
            if case .uploaded(let stored) = result, let keep {
                locked { pruning = true }
                finish(file, result)
                await prune(keep: keep, protecting: stored)
                locked {
                    pruning = false
                    condition.broadcast()
                }
            } else {
                finish(file, result)
            }
        }
        if ownsThread { thread.shutdown() }
    }

    /// Runs `body` under the lock (a synchronous function, so callable from async code).
    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    private func finish(_ file: CheckpointFile, _ result: UploadResult) {
        locked {
            inFlight = nil
            // The same checkpoint written again while this upload ran (a step-interval save and
            // the epoch-end save of one step): the newer file's upload, pending, decides what
            // a wait reports; this result would be stale.
            if pending?.name != file.name { results[file.name] = result }
            switch result {
            case .uploaded(let stored):
                counters.uploads += 1
                counters.lastUploaded = stored
            case .failed(let reason):
                counters.failures += 1
                counters.lastError = reason
            default:
                break
            }
            condition.broadcast()
        }
    }

    private func upload(_ file: CheckpointFile) async -> UploadResult {
        let clock = ContinuousClock()
        let start = clock.now
        let bytes: [UInt8]
        do {
            bytes = try directory.fileSystem.readFile(atPath: file.path)
            let metadata = try CheckpointReader.verify(bytes, path: file.path)
            try CheckpointDirectory.checkName(file, metadata)
        } catch let error as CheckpointError where error.systemErrorNumber == ENOENT {
            // Pruned locally (a newer checkpoint exists, which is uploaded next).
            locked { counters.superseded += 1 }
            return .superseded
        } catch {
            let reason = "not uploading \(file.path): it cannot be read back intact: \(error)"
            logger.error("checkpoint mirror: \(reason)",
                         metadata: Logger.Metadata.describing(error).merging(["path": "\(file.path)", "step": "\(file.globalStep)"]))
            return .failed(reason)
        }
        var delay = retryDelay
        var lastError = ""
        var refused = false
        for attempt in 1...attempts {
            do {
                let stored = try await store.put(file.name, bytes: bytes)
                let seconds = start.duration(to: clock.now).seconds
                locked { counters.uploadSeconds += seconds }
                return .uploaded(stored)
            } catch {
                lastError = String(describing: error)
                refused = (error as? CheckpointStoreError)?.code == .refused
                if refused || attempt == attempts { break }
                let message = "checkpoint mirror: uploading \(file.name) to \(store.location(of: file.name)) failed "
                    + "(attempt \(attempt) of \(attempts)): \(error); retrying"
                logger.warning("\(message)",
                               metadata: Logger.Metadata.describing(error).merging(
                                   ["checkpoint": "\(file.name)", "location": "\(store.location(of: file.name))",
                                    "attempt": "\(attempt)", "attempts": "\(attempts)"]))
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        locked { counters.lastFailureRefused = refused }
        let reason = "uploading \(file.name) to \(store.location(of: file.name)) failed: \(lastError)"
        logger.error("checkpoint mirror: \(reason); training goes on, the next checkpoint will be uploaded as usual",
                     metadata: ["checkpoint": "\(file.name)", "location": "\(store.location(of: file.name))",
                                "step": "\(file.globalStep)", "refused": "\(refused)"])
        return .failed(reason)
    }

    private func prune(keep: Int, protecting stored: StoredCheckpoint) async {
        do {
            // Only checkpoints up to the one just uploaded are ranked: objects with higher steps
            // (left by another run, or damaged ones a resume skipped) must not push good ones out.
            let objects = try await store.list().filter { $0.globalStep <= stored.globalStep }
                .sorted { $0.globalStep > $1.globalStep }
            let surplus = objects.dropFirst(keep).map(\.name).filter { $0 != stored.name }
            if !surplus.isEmpty { try await store.delete(surplus) }
        } catch {
            logger.warning("checkpoint mirror: could not remove old checkpoints from \(store.location): \(error)",
                           metadata: Logger.Metadata.describing(error).merging(["location": "\(store.location)"]))
        }
    }
}

extension CheckpointMirror {
    /// A short machine-readable name of an upload result: `uploaded`, `failed`, `superseded`,
    /// `timed_out` or `not_queued`.
    /// - Parameter result: The result.
    public static func name(of result: UploadResult) -> String {
        switch result {
        case .uploaded: "uploaded"
        case .failed: "failed"
        case .superseded: "superseded"
        case .timedOut: "timed_out"
        case .notQueued: "not_queued"
        }
    }

    /// A description of an upload result for people.
    /// - Parameter result: The result.
    public static func describe(_ result: UploadResult) -> String {
        switch result {
        case .uploaded(let stored): "uploaded to \(stored.location)"
        case .failed(let reason): "the upload failed: \(reason)"
        case .superseded: "superseded by a newer checkpoint before its upload started"
        case .timedOut: "the upload did not finish in the time left"
        case .notQueued: "it was never handed to the mirror"
        }
    }
}
