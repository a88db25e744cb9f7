/// Softmax cross-entropy on integer class labels, averaged over the batch.
///
/// For logits `z` of shape `[batch, classes]` and labels `y`:
/// `loss = (1/N) Σ_n [log Σ_k exp(z[n,k]) − z[n, y_n]]` computed with the log-sum-exp shift
/// (stable for any logits), and `∂loss/∂z[n,k] = (softmax(z[n])_k − [k = y_n]) / N`.
public final class SoftmaxCrossEntropy {
    private var gradient: Tensor?

    /// Creates a loss; it reuses its gradient buffer across calls.
    public init() {}

    /// Computes the mean loss and the gradient of the logits.
    /// - Parameters:
    ///   - logits: `[batch, classes]`.
    ///   - labels: `batch` class indices in `0..<classes`.
    ///   - gradientCount: The `N` the gradient is divided by (default `batch`). Data-parallel
    ///     training passes the global batch size, so that each process's gradient is its
    ///     share of the global mean and the processes' gradients sum to it; the returned loss
    ///     is still the mean over this `batch`.
    /// - Returns: The mean loss and the gradient `[batch, classes]` (owned by this object,
    ///   overwritten by the next call), plus the number of correct argmax predictions.
    public func callAsFunction(logits: Tensor, labels: UnsafeBufferPointer<Int32>,
                               gradientCount: Int? = nil) -> (loss: Float, gradient: Tensor, correct: Int) {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                     "SoftmaxCrossEntropy: logits shape \(logits.shape) does not match \(labels.count) labels")
        let n = logits.shape[0], k = logits.shape[1]
        precondition((gradientCount ?? n) >= n,
                     "SoftmaxCrossEntropy: gradientCount \(String(describing: gradientCount)) is smaller than the batch \(n)")
        let grad = reuse(&gradient, shape: logits.shape)
        let z = logits.pointer, g = grad.pointer
        var total = 0.0
        var correct = 0
        let scale = 1 / Float(gradientCount ?? n)
        for row in 0..<n {
            let label = Int(labels[row])
            precondition(label >= 0 && label < k, "SoftmaxCrossEntropy: label \(label) at row \(row) is not in 0..<\(k)")
            let zr = z + row * k, gr = g + row * k
            var maxValue = zr[0], best = 0
            for j in 1..<k where zr[j] > maxValue { maxValue = zr[j]; best = j }
            if best == label { correct += 1 }
            var sum: Float = 0
            for j in 0..<k {
                let e = _expf(zr[j] - maxValue)
                gr[j] = e
                sum += e
            }
            let logSum = _logf(sum) + maxValue
            total += Double(logSum - zr[label])
            let inv = scale / sum
            for j in 0..<k { gr[j] *= inv }
            gr[label] -= scale
        }
        return (Float(total / Double(n)), grad, correct)
    }

    /// Convenience for labels in an array.
    public func callAsFunction(logits: Tensor, labels: [Int32], gradientCount: Int? = nil) -> (loss: Float, gradient: Tensor, correct: Int) {
        labels.withUnsafeBufferPointer { self(logits: logits, labels: $0, gradientCount: gradientCount) }
    }
}

/// Classification metrics.
public enum Metrics {
    /// The number of rows of `logits` (`[batch, classes]`) whose largest entry is at the
    /// label (first maximum on ties).
    public static func correctCount(logits: Tensor, labels: UnsafeBufferPointer<Int32>) -> Int {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                     "Metrics.correctCount: logits shape \(logits.shape) does not match \(labels.count) labels")
        let n = logits.shape[0], k = logits.shape[1], z = logits.pointer
        var correct = 0
        for row in 0..<n {
            let zr = z + row * k
            var best = 0
            for j in 1..<k where zr[j] > zr[best] { best = j }
            if best == Int(labels[row]) { correct += 1 }
        }
        return correct
    }

    /// The fraction of correct argmax predictions.
    public static func accuracy(logits: Tensor, labels: [Int32]) -> Double {
        guard !labels.isEmpty else { return 0 }
        return Double(labels.withUnsafeBufferPointer { correctCount(logits: logits, labels: $0) }) / Double(labels.count)
    }
}
