import Dispatch
import COpenBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thread settings for SpotTrain's own loops and for OpenBLAS.
///
/// SpotTrain's layers split their matrix products into independent blocks (image chunks of a
/// convolution, column blocks of a dense layer) and run the blocks on its own threads, each
/// block one single-threaded OpenBLAS call: on few cores this beats OpenBLAS's own threading
/// on these shapes (see `Docs/Performance.md`). So by default SpotTrain uses every core the
/// process sees and OpenBLAS runs single-threaded. The blocks and every reduction over them
/// are fixed by the shapes alone, so results are bit-identical for any thread count.
public enum Threading {
    /// Applies the defaults once, before the first BLAS call or configuration.
    static let defaultsApplied: Void = {
        openblas_set_num_threads(1)
    }()

    private static let ownThreads = Atomic<Int>(ProcessInfoCores.active)

    /// The number of threads SpotTrain's own parallel loops use.
    public static var threads: Int { ownThreads.load(ordering: .relaxed) }

    /// Sets the thread count for SpotTrain's loops and for OpenBLAS.
    ///
    /// Call it before training starts: OpenBLAS must not be reconfigured while another
    /// thread is inside a BLAS call.
    /// - Parameters:
    ///   - threads: Threads for SpotTrain's own loops, at least 1; `nil` means every active core.
    ///   - blasThreads: Threads for each OpenBLAS call; `nil` means 1 (SpotTrain's layers
    ///     call OpenBLAS from several threads at once). Raise it only when your own code makes
    ///     large matrix products from a single thread.
    public static func configure(threads: Int?, blasThreads: Int? = nil) {
        _ = defaultsApplied
        let n = max(1, threads ?? ProcessInfoCores.active)
        ownThreads.store(n, ordering: .relaxed)
        openblas_set_num_threads(Int32(max(1, blasThreads ?? 1)))
    }

    /// Sets only the thread count of SpotTrain's own loops, leaving OpenBLAS alone (safe at
    /// any time: results do not depend on it).
    /// - Parameter threads: At least 1.
    public static func configureOwnLoops(threads: Int) {
        ownThreads.store(max(1, threads), ordering: .relaxed)
    }

    /// The number of threads OpenBLAS is currently set to use.
    public static var blasThreads: Int {
        _ = defaultsApplied
        return Int(openblas_get_num_threads())
    }
}

enum ProcessInfoCores {
    static var active: Int {
        #if canImport(Glibc) || canImport(Musl)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }
}

/// Splits index ranges across threads.
public enum Parallel {
    /// Calls `body` on disjoint chunks that cover `0..<count`, on up to
    /// ``Threading/threads`` threads; runs inline when `count` is below `2 * minimumChunk`
    /// or only one thread is configured.
    ///
    /// - Parameters:
    ///   - count: The number of indices.
    ///   - minimumChunk: The fewest indices worth handing to a thread.
    ///   - body: Work on one chunk; must only write to locations owned by that chunk.
    public static func forChunks(count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = min(Threading.threads, max(1, count / max(1, minimumChunk)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        // `body` is not `@Sendable`: it captures the caller's buffers. That is sound here
        // because every call returns before `forChunks` does and chunks are disjoint.
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = count * w / workers
                let hi = count * (w + 1) / workers
                if lo < hi { work.value(lo..<hi) }
            }
        }
    }
}

extension Parallel {
    /// The number of workers ``forWorkers(count:_:)`` uses for `count`
    /// items: at most ``Threading/threads`` and at most `count`.
    public static func workerCount(for count: Int) -> Int {
        max(1, min(Threading.threads, count))
    }

    /// Runs `body` over the items `0..<count` on up to ``Threading/threads`` workers that
    /// claim items one at a time from a shared counter, so a worker slowed by another process
    /// does not hold the others up. Each call gets the claiming worker's index
    /// (`0..<workerCount(for: count)`, so workers can use their own scratch buffers) and a
    /// range of one item; every item is passed exactly once. Which worker gets which item
    /// varies from run to run, so `body` must write only to locations owned by its item.
    public static func forWorkers(count: Int, _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = workerCount(for: count)
        if workers == 1 {
            body(0, 0..<count)
            return
        }
        let next = WorkCounter()
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                while true {
                    let item = next.claim()
                    if item >= count { break }
                    work.value(w, item..<(item + 1))
                }
            }
        }
    }
}

/// The next unclaimed item of a ``Parallel/forWorkers(count:_:)`` loop.
private final class WorkCounter: Sendable {
    private let value = Atomic<Int>(0)
    func claim() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees exclusive,
/// scoped use (see ``Parallel/forChunks(count:minimumChunk:_:)``).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
