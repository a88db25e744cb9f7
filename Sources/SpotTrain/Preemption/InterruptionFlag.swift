import Synchronization

/// A thread-safe ``InterruptionSource`` that feeders raise: a signal handler's reader
/// thread, an IMDS watcher, a test.
///
/// The first interruption raised is kept (its kind, reason and detection time); a later one
/// with an earlier deadline only moves the deadline earlier, so the most urgent deadline
/// known always wins. A rebalance recommendation replaces the previous one.
public final class InterruptionFlag: InterruptionSource {
    private struct State {
        var interruption: InterruptionRequest?
        var rebalance: InterruptionRequest?
    }

    private let state = Mutex(State())

    /// Creates a flag with nothing raised.
    public init() {}

    public var pendingInterruption: InterruptionRequest? {
        state.withLock { $0.interruption }
    }

    public var rebalanceRecommendation: InterruptionRequest? {
        state.withLock { $0.rebalance }
    }

    /// Records a request.
    /// - Parameter request: An interruption (kept, or merged into the pending one) or a
    ///   rebalance recommendation (replaces the previous one).
    /// - Returns: `true` if this is the first interruption raised (the caller may log it),
    ///   `false` for a repeated interruption or a rebalance recommendation.
    @discardableResult
    public func raise(_ request: InterruptionRequest) -> Bool {
        state.withLock { state in
            guard request.isInterruption else {
                state.rebalance = request
                return false
            }
            guard var current = state.interruption else {
                state.interruption = request
                return true
            }
            if let deadline = request.deadline, current.deadline.map({ deadline < $0 }) ?? true {
                current.deadline = deadline
                state.interruption = current
            }
            return false
        }
    }
}
