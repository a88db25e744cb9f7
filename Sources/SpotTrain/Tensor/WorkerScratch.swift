/// Per-worker scratch buffers for parallel kernels, kept across calls (no allocation per
/// batch in steady state).
final class WorkerScratch {
    private var buffers: [TensorStorage] = []

    /// Makes sure `workers` buffers of at least `count` floats exist. Call before the
    /// parallel region (not thread-safe).
    func prepare(workers: Int, count: Int) {
        for i in 0..<workers {
            if i >= buffers.count {
                buffers.append(TensorStorage(uninitializedCount: count))
            } else if buffers[i].count < count {
                buffers[i] = TensorStorage(uninitializedCount: count)
            }
        }
    }

    /// Worker `worker`'s buffer (valid after ``prepare(workers:count:)``).
    @inline(__always)
    func pointer(_ worker: Int) -> UnsafeMutablePointer<Float> { buffers[worker].pointer }
}
