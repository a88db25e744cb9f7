import Dispatch
#if canImport(Foundation)
import Foundation
#endif

/// A dedicated thread that runs checkpoint-store work (uploads, downloads, listings) as a
/// Swift task executor.
///
/// Store calls are `async`, but the training loop is synchronous and keeps its own worker
/// threads busy. Work started here never needs a thread of Swift's shared concurrency pool
/// (which a blocking training loop, or a test, may occupy), so synchronous code can wait for
/// it with ``run(_:)`` without any risk of starving it, and an upload in flight never slows a
/// training step down by more than the CPU it uses (hashing, signing).
///
/// Tasks started with `Task(executorPreference: thread)` and their child tasks run here.
/// The thread keeps this object alive until ``shutdown()``.
public final class CheckpointStoreThread: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false
    private var running = true
    private var thread: Thread?

    /// Starts the thread.
    /// - Parameter name: The thread's name, as debuggers show it.
    public init(name: String = "spottrain.checkpoint-store") {
        let thread = Thread { self.loop() }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    /// Lets the thread end once the jobs already queued have run. Jobs enqueued later still
    /// run (on a new thread), so a task that is still suspended is never lost.
    public func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Accepts a job of a task that prefers this executor.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        if stopped, !running {
            stopped = false
            running = true
            let thread = Thread { self.loop() }
            thread.name = self.thread?.name
            self.thread = thread
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                running = false
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Whether the caller is this executor's thread.
    public var isCurrent: Bool {
        // Under the lock: enqueue(_:) replaces the thread after a shutdown.
        condition.lock()
        defer { condition.unlock() }
        return Thread.current === thread
    }

    /// Runs `operation` on this thread and blocks the calling thread until it returns.
    ///
    /// For synchronous callers (a training loop, a command-line tool). Must not be called
    /// from this thread (it would wait for itself).
    /// - Parameter operation: The work.
    /// - Returns: What `operation` returned.
    /// - Throws: What `operation` threw.
    public func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        precondition(!isCurrent, "CheckpointStoreThread.run must not be called from the store thread itself")
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task(executorPreference: self) {
            do {
                box.result = .success(try await operation())
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        // The semaphore orders the write before this read.
        return try box.result!.get()
    }
}

/// The result of a ``CheckpointStoreThread/run(_:)`` (written once by the task, read once
/// after the semaphore).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
