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
    /// rebalance recommendation. When ``isTimeEstimated``, the moment the document was
    /// received (the earliest plausible deadline).
    public var time: Date
    /// Whether ``time`` is an estimate because the document's time was missing or unreadable.
    public var isTimeEstimated: Bool
    /// What in the IMDS document could not be read as documented (empty when well-formed).
    public var warnings: [String]

    /// Creates a notice.
    /// - Parameters:
    ///   - kind: What the notice announces.
    ///   - time: The deadline (interruptions) or notice time (rebalance recommendation).
    ///   - isTimeEstimated: Whether `time` is an estimate (default `false`).
    ///   - warnings: What could not be read as documented (default none).
    public init(kind: Kind, time: Date, isTimeEstimated: Bool = false, warnings: [String] = []) {
        self.kind = kind
        self.time = time
        self.isTimeEstimated = isTimeEstimated
        self.warnings = warnings
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
        isTimeEstimated = action.isTimeEstimated
        warnings = action.warnings
    }

    /// Creates the notice for a rebalance recommendation.
    /// - Parameter recommendation: The parsed `events/recommendations/rebalance` document.
    public init(_ recommendation: RebalanceRecommendation) {
        kind = .rebalanceRecommendation
        time = recommendation.noticeTime
        isTimeEstimated = recommendation.isTimeEstimated
        warnings = recommendation.warnings
    }

    /// Whether the instance will actually be interrupted (not just a recommendation).
    public var isInterruption: Bool { kind != .rebalanceRecommendation }

    /// The moment the instance will be interrupted, or `nil` for a rebalance recommendation.
    public var deadline: Date? { isInterruption ? time : nil }

    /// One line of JSON, `{"kind":"terminate","time":"2026-11-29T12:00:00Z"}`, as
    /// `spottrain ec2 watch` prints it; `"time_estimated":true` is added when
    /// ``isTimeEstimated``.
    public var jsonLine: String {
        "{\"kind\":\"\(kind.rawValue)\",\"time\":\"\(IMDSDate.format(time))\""
            + (isTimeEstimated ? ",\"time_estimated\":true}" : "}")
    }

    /// `terminate at 2026-11-29T12:00:00Z`, `rebalance-recommendation at …`, or
    /// `terminate at … (estimated)`.
    public var description: String {
        "\(kind.rawValue) at \(IMDSDate.format(time))" + (isTimeEstimated ? " (estimated)" : "")
    }
}
