import Dispatch
import Foundation
import Testing
import SpotTrain

/// Blocks the calling thread until `semaphore` is signalled (a synchronous function, so
/// that a pool thread can be occupied on purpose).
private func occupy(_ semaphore: DispatchSemaphore) { semaphore.wait() }

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

private struct Failure: Error, Equatable {
    var text: String
}

/// ``CheckpointStoreThread``: store work that never needs a thread of the shared pool.
@Suite struct CheckpointStoreThreadTests {
    /// A caller on the cooperative pool blocks in `run` while every other pool thread is
    /// blocked too: the work (including a sleep and a child task) still completes, on the
    /// store thread.
    @Test func runCompletesWhileEveryPoolThreadIsBlocked() async throws {
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        let width = ProcessInfo.processInfo.activeProcessorCount
        let release = DispatchSemaphore(value: 0)
        let started = Counter()
        let fired = Counter()
        // Hang watchdog: if `run` needed the pool, it would wait for these tasks forever.
        let watchdogDone = Counter()
        Thread {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && watchdogDone.value == 0 { usleep(20_000) }
            if watchdogDone.value == 0 {
                fired.increment()
                for _ in 0...width { release.signal() }
            }
        }.start()
        // One more than the pool can run besides this test's own thread.
        for _ in 0..<width {
            Task.detached {
                started.increment()
                occupy(release)
            }
        }
        // Wait until every other pool thread is taken (or other tests hold some of them).
        StoreFixtures.eventually(seconds: 5) { started.value >= width - 1 }
        let result = try thread.run {
            var onThread = [thread.isCurrent]
            try await Task.sleep(for: .milliseconds(20))
            onThread.append(thread.isCurrent)
            let child = await withTaskGroup(of: Bool.self) { group in
                group.addTask { thread.isCurrent }
                return await group.next() ?? false
            }
            onThread.append(child)
            return onThread
        }
        watchdogDone.increment()
        #expect(fired.value == 0, "run waited for the blocked pool")
        for _ in 0...width { release.signal() }
        #expect(result == [true, true, true])
        #expect(!thread.isCurrent)
    }

    @Test func runRethrowsWhatTheOperationThrows() {
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        #expect(throws: Failure(text: "injected")) {
            _ = try thread.run { () async throws -> Int in throw Failure(text: "injected") }
        }
        #expect(throws: CheckpointStoreError.self) {
            _ = try thread.run { () async throws -> Int in
                throw CheckpointStoreError(.unavailable, "down", location: "test")
            }
        }
    }

    @Test func workAfterShutdownStillRuns() throws {
        let thread = CheckpointStoreThread()
        #expect(try thread.run { 1 } == 1)
        thread.shutdown()
        // Jobs enqueued after a shutdown run on a new thread: a suspended task is never lost.
        #expect(try thread.run { () async throws -> Bool in
            try await Task.sleep(for: .milliseconds(5))
            return thread.isCurrent
        })
        thread.shutdown()
    }
}
