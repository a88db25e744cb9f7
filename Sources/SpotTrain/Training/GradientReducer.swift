/// What one process's share of a data-parallel step contributes to the step's metrics.
public struct StepContribution: Sendable, Equatable {
    /// The sum of the per-example losses of this process's rows.
    public var lossSum: Float
    /// Correct argmax predictions among this process's rows.
    public var correct: Int
    /// The rows this process trained (0 when the global batch has fewer rows than processes).
    public var count: Int

    /// Creates a contribution.
    /// - Parameters:
    ///   - lossSum: The sum of the per-example losses.
    ///   - correct: Correct predictions.
    ///   - count: Examples.
    public init(lossSum: Float, correct: Int, count: Int) {
        self.lossSum = lossSum
        self.correct = correct
        self.count = count
    }
}

/// The hook that makes ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``
/// data-parallel: several processes (an MPI job, for example) each train a share of every
/// global batch and combine their gradients before the optimizer step.
///
/// With ``Trainer/gradientReducer`` set, every step of `fit`
/// 1. takes the global batch that a single process would take (same shuffle, same position),
///    and trains only the rows ``BatchSlice/rowRange(globalRows:shard:of:)`` gives this
///    ``shard`` of ``shardCount``;
/// 2. scales the loss gradient by the *global* batch size and draws dropout masks at this
///    share's position in the global stream (``RandomGenerator/batchSlice``), so the
///    processes' gradients sum to the single-process gradient;
/// 3. calls ``reduce(gradients:contribution:)`` between the backward pass and the optimizer
///    step, which replaces every gradient and the contribution by their sums over all
///    processes;
/// 4. applies the optimizer step to the summed gradients (identically on every process, so
///    the parameters stay identical) and reports the global loss and accuracy.
///
/// The reducer is a collective: every process calls it once per step, in the same order.
/// Conforming types live outside `SpotTrain` (`SpotTrainMPI`), so the core never needs MPI.
public protocol GradientReducer: AnyObject {
    /// This process's shard (its rank), in `0..<shardCount`.
    var shard: Int { get }
    /// The number of processes sharing each batch (the world size), at least 1.
    var shardCount: Int { get }

    /// Sums `parameters`' gradients and `contribution` over all processes, in place, so that
    /// afterwards every process holds the same sums, bit for bit.
    /// - Parameters:
    ///   - parameters: The model's parameters in model order (the same on every process).
    ///   - contribution: This process's metrics on entry; the sums over all processes on return.
    /// - Throws: When the processes cannot communicate; training stops with that error.
    func reduce(gradients parameters: [Parameter], contribution: inout StepContribution) throws
}
