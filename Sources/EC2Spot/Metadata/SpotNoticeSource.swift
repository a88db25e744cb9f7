/// Where an ``InterruptionWatcher`` reads spot notices from. ``InstanceMetadataClient``
/// conforms; tests and off-AWS tools can supply their own.
public protocol SpotNoticeSource: Sendable {
    /// The scheduled spot interruption, or `nil` when nothing is scheduled.
    /// - Returns: The action, or `nil`.
    /// - Throws: Any error; the watcher counts and reports it and keeps polling.
    func spotInstanceAction() async throws -> SpotInstanceAction?

    /// The current rebalance recommendation, or `nil` when there is none.
    /// - Returns: The recommendation, or `nil`.
    /// - Throws: Any error; the watcher counts and reports it and keeps polling.
    func rebalanceRecommendation() async throws -> RebalanceRecommendation?
}

extension InstanceMetadataClient: SpotNoticeSource {}
