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
/// By default both use every core the process sees. Results never depend on the thread
/// count of SpotTrain's own loops (each element is computed by exactly one thread in a fixed
/// way); OpenBLAS may sum in a different order for a different thread count, so bit-exact
/// reproducibility holds for a fixed ``Threading/configure(threads:)`` value.
public enum Threading {
    private static let ownThreads = Atomic<Int>(ProcessInfoCores.active)

    /// The number of threads SpotTrain's own parallel loops use.
    public static var threads: Int { ownThreads.load(ordering: .relaxed) }

    /// Sets the thread count for SpotTrain's loops and for OpenBLAS.
    ///
    /// Call it before training starts: OpenBLAS must not be reconfigured while another
    /// thread is inside a BLAS call.
    /// - Parameters:
    ///   - threads: Threads for SpotTrain's own loops, at least 1; `nil` means every active core.
    ///   - blasThreads: Threads for OpenBLAS; `nil` means the same as `threads`.
    public static func configure(threads: Int?, blasThreads: Int? = nil) {
        let n = max(1, threads ?? ProcessInfoCores.active)
        ownThreads.store(n, ordering: .relaxed)
        openblas_set_num_threads(Int32(max(1, blasThreads ?? n)))
    }

    /// Sets only the thread count of SpotTrain's own loops, leaving OpenBLAS alone (safe at
    /// any time: results do not depend on it).
    /// - Parameter threads: At least 1.
    public static func configureOwnLoops(threads: Int) {
        ownThreads.store(max(1, threads), ordering: .relaxed)
    }

    /// The number of threads OpenBLAS is currently set to use.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
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

/// Carries a value into a `@Sendable` closure when the caller guarantees exclusive,
/// scoped use (see ``Parallel/forChunks(count:minimumChunk:_:)``).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
