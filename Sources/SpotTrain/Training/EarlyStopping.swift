/// Stops training when a monitored metric has not improved for `patience` epochs.
public final class EarlyStopping: Callback {
    /// Whether larger or smaller values are better.
    public enum Mode: String, Sendable, Codable {
        /// Smaller is better (losses).
        case min
        /// Larger is better (accuracies).
        case max
    }

    /// The metric in ``TrainingContext/logs``, for example `val_loss`.
    public let monitor: String
    /// Whether larger or smaller is better.
    public let mode: Mode
    /// The smallest change that counts as an improvement.
    public let minDelta: Double
    /// Epochs without improvement before stopping.
    public let patience: Int

    /// Creates an early-stopping callback.
    /// - Parameters:
    ///   - monitor: Metric name (default `val_loss`).
    ///   - mode: `nil` infers `.max` for names containing `accuracy`, else `.min`.
    ///   - minDelta: Minimum improvement (default 0).
    ///   - patience: Epochs to wait (default 0: stop at the first epoch without improvement).
    public init(monitor: String = "val_loss", mode: Mode? = nil, minDelta: Double = 0, patience: Int = 0) {
        precondition(patience >= 0, "EarlyStopping: patience \(patience) must not be negative")
        self.monitor = monitor
        self.mode = mode ?? (monitor.contains("accuracy") ? .max : .min)
        self.minDelta = abs(minDelta)
        self.patience = patience
    }

    private var key: String { "EarlyStopping.\(monitor)" }
    // Epochs without improvement, kept in the progress so that it survives a resume.
    private var waitKey: String { "EarlyStopping.\(monitor).wait" }

    public func epochEnd(_ context: TrainingContext) throws {
        guard let value = context.logs[monitor], value.isFinite else { return }
        let best = context.progress.best[key]
        let improved: Bool
        switch (mode, best) {
        case (_, nil): improved = true
        case (.min, let b?): improved = value < b - minDelta
        case (.max, let b?): improved = value > b + minDelta
        }
        var wait = Int(context.progress.best[waitKey] ?? 0)
        if improved {
            context.setBest(key, value)
            wait = 0
        } else {
            wait += 1
            if wait > patience {
                context.requestStop(.stopped, reason: "\(monitor) did not improve for \(wait) epochs (best \(best!))")
            }
        }
        context.setBest(waitKey, Double(wait))
    }
}
