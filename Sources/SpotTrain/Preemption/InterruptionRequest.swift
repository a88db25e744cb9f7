#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A request to stop training soon: a spot interruption notice, a termination signal, or a
/// rebalance recommendation (a hint that an interruption is likely, not a request to stop).
public struct InterruptionRequest: Sendable, Equatable, CustomStringConvertible {
    /// Where the request came from and what it announces.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The machine will be terminated at ``InterruptionRequest/deadline``.
        case terminate
        /// The machine will be stopped at ``InterruptionRequest/deadline``.
        case stop
        /// The machine will be hibernated at ``InterruptionRequest/deadline``.
        case hibernate
        /// The process received a termination signal (SIGTERM, SIGINT); the deadline is
        /// whatever the sender allows, unknown unless the source was told.
        case signal
        /// The machine is at elevated risk of interruption: checkpoint early, keep training.
        case rebalanceRecommendation = "rebalance-recommendation"
    }

    /// What the request announces.
    public var kind: Kind
    /// When the machine goes away, if known. Always `nil` for a rebalance recommendation.
    public var deadline: Date?
    /// When this process learned of the request.
    public var detectedAt: Date
    /// A human-readable origin, for logs: `"SIGTERM"`, `"IMDS spot/instance-action"`, … .
    public var reason: String

    /// Creates a request.
    /// - Parameters:
    ///   - kind: What the request announces.
    ///   - deadline: When the machine goes away, if known (ignored for a rebalance
    ///     recommendation).
    ///   - detectedAt: When this process learned of it.
    ///   - reason: A human-readable origin for logs.
    public init(kind: Kind, deadline: Date?, detectedAt: Date, reason: String) {
        self.kind = kind
        self.deadline = kind == .rebalanceRecommendation ? nil : deadline
        self.detectedAt = detectedAt
        self.reason = reason
    }

    /// Whether training must stop (everything but a rebalance recommendation).
    public var isInterruption: Bool { kind != .rebalanceRecommendation }

    /// Seconds from `now` to the deadline (negative once it has passed), or `nil` without one.
    /// - Parameter now: The current time.
    /// - Returns: The remaining seconds, or `nil`.
    public func secondsRemaining(at now: Date) -> Double? {
        deadline.map { $0.timeIntervalSince(now) }
    }

    /// `terminate (IMDS spot/instance-action, deadline 2026-11-29T12:00:00Z)`.
    public var description: String {
        var text = "\(kind.rawValue) (\(reason)"
        if let deadline { text += ", deadline \(InterruptionRequest.format(deadline))" }
        return text + ")"
    }

    /// Formats a time as ISO 8601 UTC with milliseconds, for logs and summaries.
    /// - Parameter date: The time.
    /// - Returns: For example `2026-11-29T12:00:00.250Z`.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
