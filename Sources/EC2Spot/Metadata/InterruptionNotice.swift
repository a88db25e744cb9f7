import Foundation

/// A warning that this spot instance is about to be interrupted, or is at elevated risk.
public struct InterruptionNotice: Sendable, Hashable, CustomStringConvertible {
    /// What the notice announces.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The instance will be terminated at ``InterruptionNotice/time``.
        case terminate
        /// The instance will be stopped at ``InterruptionNotice/time``.
        case stop
        /// The instance will be hibernated at ``InterruptionNotice/time``.
        case hibernate
        /// EC2 recommends moving work off this instance; ``InterruptionNotice/time`` is when
        /// the recommendation was issued, not a deadline.
        case rebalanceRecommendation = "rebalance-recommendation"
    }

    /// What the notice announces.
    public var kind: Kind
    /// The interruption deadline for `terminate`/`stop`/`hibernate`; the notice time for a
    /// rebalance recommendation.
    public var time: Date

    /// Creates a notice.
    /// - Parameters:
    ///   - kind: What the notice announces.
    ///   - time: The deadline (interruptions) or notice time (rebalance recommendation).
    public init(kind: Kind, time: Date) {
        self.kind = kind
        self.time = time
    }

    /// Creates the notice for a scheduled spot interruption.
    /// - Parameter action: The parsed `spot/instance-action` document.
    public init(_ action: SpotInstanceAction) {
        switch action.action {
        case .terminate: kind = .terminate
        case .stop: kind = .stop
        case .hibernate: kind = .hibernate
        }
        time = action.time
    }

    /// Creates the notice for a rebalance recommendation.
    /// - Parameter recommendation: The parsed `events/recommendations/rebalance` document.
    public init(_ recommendation: RebalanceRecommendation) {
        kind = .rebalanceRecommendation
        time = recommendation.noticeTime
    }

    /// Whether the instance will actually be interrupted (not just a recommendation).
    public var isInterruption: Bool { kind != .rebalanceRecommendation }

    /// The moment the instance will be interrupted, or `nil` for a rebalance recommendation.
    public var deadline: Date? { isInterruption ? time : nil }

    /// One line of JSON, `{"kind":"terminate","time":"2026-11-29T12:00:00Z"}`, as
    /// `spottrain ec2 watch` prints it.
    public var jsonLine: String {
        "{\"kind\":\"\(kind.rawValue)\",\"time\":\"\(IMDSDate.format(time))\"}"
    }

    /// `terminate at 2026-11-29T12:00:00Z` or `rebalance-recommendation at …`.
    public var description: String { "\(kind.rawValue) at \(IMDSDate.format(time))" }
}
