import Foundation

/// A scheduled spot interruption, as served at `/latest/meta-data/spot/instance-action`
/// (`{"action": "terminate", "time": "2026-11-29T12:00:00Z"}`).
public struct SpotInstanceAction: Sendable, Hashable {
    /// What EC2 will do to the instance.
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// The instance will be terminated.
        case terminate
        /// The instance will be stopped (EBS-backed persistent requests).
        case stop
        /// The instance will be hibernated.
        case hibernate
    }

    /// What EC2 will do.
    public var action: Action
    /// When it will happen (UTC), about two minutes after the notice appears.
    public var time: Date

    /// Creates a value.
    /// - Parameters:
    ///   - action: What EC2 will do.
    ///   - time: When it will happen.
    public init(action: Action, time: Date) {
        self.action = action
        self.time = time
    }

    /// Decodes the IMDS JSON document.
    /// - Parameters:
    ///   - body: The response body.
    ///   - path: The path it came from, for errors.
    /// - Returns: The parsed action.
    /// - Throws: ``IMDSError`` with kind ``IMDSError/Kind/invalidResponse`` when the document
    ///   is not JSON, lacks `action`/`time`, names an unknown action, or has a bad timestamp.
    public static func decode(_ body: Data, path: String) throws -> SpotInstanceAction {
        struct Document: Decodable {
            var action: String
            var time: String
        }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: body)
        } catch {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "spot instance-action is not the expected JSON {\"action\",\"time\"}: \(IMDSText.excerpt(body))")
        }
        guard let action = Action(rawValue: document.action) else {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "unknown spot instance action '\(document.action.prefix(40))'")
        }
        guard let time = IMDSDate.parse(document.time) else {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "spot instance-action time '\(document.time.prefix(64))' is not an ISO-8601 timestamp")
        }
        return SpotInstanceAction(action: action, time: time)
    }
}

/// An EC2 instance rebalance recommendation, as served at
/// `/latest/meta-data/events/recommendations/rebalance` (`{"noticeTime": "…"}`): the
/// instance is at elevated risk of interruption, usually before the two-minute notice.
public struct RebalanceRecommendation: Sendable, Hashable {
    /// When EC2 issued the recommendation (UTC).
    public var noticeTime: Date

    /// Creates a value.
    /// - Parameter noticeTime: When EC2 issued the recommendation.
    public init(noticeTime: Date) {
        self.noticeTime = noticeTime
    }

    /// Decodes the IMDS JSON document.
    /// - Parameters:
    ///   - body: The response body.
    ///   - path: The path it came from, for errors.
    /// - Returns: The parsed recommendation.
    /// - Throws: ``IMDSError`` with kind ``IMDSError/Kind/invalidResponse`` when the document
    ///   is not JSON with a valid `noticeTime`.
    public static func decode(_ body: Data, path: String) throws -> RebalanceRecommendation {
        struct Document: Decodable {
            var noticeTime: String
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: body) else {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "rebalance recommendation is not the expected JSON {\"noticeTime\"}: \(IMDSText.excerpt(body))")
        }
        guard let time = IMDSDate.parse(document.noticeTime) else {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "rebalance noticeTime '\(document.noticeTime.prefix(64))' is not an ISO-8601 timestamp")
        }
        return RebalanceRecommendation(noticeTime: time)
    }
}

/// Helpers for quoting response bodies in error messages.
enum IMDSText {
    /// The first 120 characters of `body`, printable, for messages. Only used for bodies
    /// that carry no secrets.
    static func excerpt(_ body: Data) -> String {
        let text = String(decoding: body.prefix(120), as: UTF8.self)
        let printable = String(text.unicodeScalars.map { $0.value >= 0x20 && $0.value != 0x7F ? Character($0) : " " })
        return "'" + printable + (body.count > 120 ? "…'" : "'")
    }
}
