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

/// Per-worker buffers for the sparse backward pass of a convolution (kept across calls):
/// the nonzero entries of one image's output gradient listed by pixel and by channel, and a
/// transposed weight-gradient accumulator.
final class SparseGradientScratch {
    /// One worker's buffers.
    struct View {
        /// `pixels + 1` starts, `pixels · channels` channel indices and values, by pixel.
        let rowStart: UnsafeMutablePointer<Int32>, rowIndex: UnsafeMutablePointer<Int32>
        let rowValue: UnsafeMutablePointer<Float>
        /// `channels + 1` starts, `pixels · channels` input offsets and values, by channel.
        let columnStart: UnsafeMutablePointer<Int32>, columnOffset: UnsafeMutablePointer<Int32>
        let columnValue: UnsafeMutablePointer<Float>
        /// `channels · depth` floats: the weight gradient, transposed.
        let transposed: UnsafeMutablePointer<Float>
    }

    private var views: [View] = []
    private var shape = (pixels: 0, channels: 0, depth: 0)

    deinit { views.forEach(Self.deallocate) }

    private static func deallocate(_ v: View) {
        v.rowStart.deallocate(); v.rowIndex.deallocate(); v.rowValue.deallocate()
        v.columnStart.deallocate(); v.columnOffset.deallocate(); v.columnValue.deallocate()
        v.transposed.deallocate()
    }

    /// Makes sure `workers` sets of buffers for this shape exist. Call before the parallel
    /// region (not thread-safe).
    func prepare(workers: Int, pixels: Int, channels: Int, depth: Int) {
        if shape != (pixels, channels, depth) {
            views.forEach(Self.deallocate)
            views = []
            shape = (pixels, channels, depth)
        }
        let entries = pixels * channels
        while views.count < workers {
            views.append(View(rowStart: .allocate(capacity: pixels + 1), rowIndex: .allocate(capacity: entries),
                              rowValue: .allocate(capacity: entries), columnStart: .allocate(capacity: channels + 1),
                              columnOffset: .allocate(capacity: entries), columnValue: .allocate(capacity: entries),
                              transposed: .allocate(capacity: channels * depth)))
        }
    }

    /// Worker `worker`'s buffers (valid after ``prepare(workers:pixels:channels:depth:)``).
    @inline(__always)
    func view(_ worker: Int) -> View { views[worker] }
}
