import Foundation

/// A scheduled spot interruption, as served at `/latest/meta-data/spot/instance-action`
/// (`{"action": "terminate", "time": "2026-11-29T12:00:00Z"}`).
///
/// Decoding fails safe: any HTTP 200 on that path is a notice. An action in another case
/// (`Terminate`) is read case-insensitively; a missing or unknown action counts as
/// `terminate`; a time in another form (RFC 1123, no `Z`, epoch seconds, …) is read as such;
/// a time that is missing or cannot be read, or a body that is not a JSON object, gives the
/// earliest plausible deadline, the moment the document was received
/// (``isTimeEstimated``). Each of these is named in ``warnings``.
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
    /// When it will happen (UTC), about two minutes after the notice appears; when
    /// ``isTimeEstimated``, the moment the document was received instead.
    public var time: Date
    /// Whether ``time`` is not the document's but the earliest plausible deadline (the
    /// document's time was missing or unreadable).
    public var isTimeEstimated: Bool
    /// What could not be read as documented, one sentence each (empty for a well-formed
    /// document). Shown as warnings by `spottrain ec2 watch` and `train --spot`.
    public var warnings: [String]

    /// Creates a value.
    /// - Parameters:
    ///   - action: What EC2 will do.
    ///   - time: When it will happen.
    ///   - isTimeEstimated: Whether `time` is an estimate (default `false`).
    ///   - warnings: What could not be read as documented (default none).
    public init(action: Action, time: Date, isTimeEstimated: Bool = false, warnings: [String] = []) {
        self.action = action
        self.time = time
        self.isTimeEstimated = isTimeEstimated
        self.warnings = warnings
    }

    /// Decodes the body of an HTTP 200 on `spot/instance-action`; never fails (see the type's
    /// discussion).
    /// - Parameters:
    ///   - body: The response body.
    ///   - path: The path it came from, for warnings.
    ///   - receivedAt: When the response arrived: the deadline used when the document's
    ///     time cannot be read.
    /// - Returns: The action, with ``warnings`` naming what could not be read.
    public static func decode(_ body: Data, path: String, receivedAt: Date) -> SpotInstanceAction {
        var warnings: [String] = []
        let fields = IMDSDocument.fields(of: body, path: path, warnings: &warnings)
        var action = Action.terminate
        switch fields?["action"] {
        case .string(let text)?:
            let normalized = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if let known = Action(rawValue: normalized) {
                action = known
                if normalized != text {
                    warnings.append("\(path): action '\(IMDSText.clip(text))' is not in the documented lower case; read as \(known.rawValue)")
                }
            } else {
                warnings.append("\(path): unknown action '\(IMDSText.clip(text))'; treated as terminate")
            }
        case let other?:
            warnings.append("\(path): action is \(other.typeName), not a string; treated as terminate")
        case nil:
            if fields != nil { warnings.append("\(path): no action; treated as terminate") }
        }
        let (time, estimated) = IMDSDocument.time(fields?["time"], name: "time", hasDocument: fields != nil,
                                                  path: path, receivedAt: receivedAt, warnings: &warnings)
        return SpotInstanceAction(action: action, time: time, isTimeEstimated: estimated, warnings: warnings)
    }
}

/// An EC2 instance rebalance recommendation, as served at
/// `/latest/meta-data/events/recommendations/rebalance` (`{"noticeTime": "…"}`): the
/// instance is at elevated risk of interruption, usually before the two-minute notice.
///
/// Like ``SpotInstanceAction``, decoding fails safe: any HTTP 200 is a recommendation; a
/// `noticeTime` that is missing or cannot be read becomes the moment the document was
/// received, and ``warnings`` says so.
public struct RebalanceRecommendation: Sendable, Hashable {
    /// When EC2 issued the recommendation (UTC); when ``isTimeEstimated``, the moment the
    /// document was received.
    public var noticeTime: Date
    /// Whether ``noticeTime`` is not the document's (it was missing or unreadable).
    public var isTimeEstimated: Bool
    /// What could not be read as documented (empty for a well-formed document).
    public var warnings: [String]

    /// Creates a value.
    /// - Parameters:
    ///   - noticeTime: When EC2 issued the recommendation.
    ///   - isTimeEstimated: Whether `noticeTime` is an estimate (default `false`).
    ///   - warnings: What could not be read as documented (default none).
    public init(noticeTime: Date, isTimeEstimated: Bool = false, warnings: [String] = []) {
        self.noticeTime = noticeTime
        self.isTimeEstimated = isTimeEstimated
        self.warnings = warnings
    }

    /// Decodes the body of an HTTP 200 on `events/recommendations/rebalance`; never fails.
    /// - Parameters:
    ///   - body: The response body.
    ///   - path: The path it came from, for warnings.
    ///   - receivedAt: When the response arrived, used when `noticeTime` cannot be read.
    /// - Returns: The recommendation, with ``warnings`` naming what could not be read.
    public static func decode(_ body: Data, path: String, receivedAt: Date) -> RebalanceRecommendation {
        var warnings: [String] = []
        let fields = IMDSDocument.fields(of: body, path: path, warnings: &warnings)
        let (time, estimated) = IMDSDocument.time(fields?["noticeTime"], name: "noticeTime", hasDocument: fields != nil,
                                                  path: path, receivedAt: receivedAt, warnings: &warnings)
        return RebalanceRecommendation(noticeTime: time, isTimeEstimated: estimated, warnings: warnings)
    }
}

/// The shallow reading of a small IMDS JSON document shared by the notice decoders.
enum IMDSDocument {
    /// Documents larger than this are not parsed (IMDS documents are under 100 bytes).
    static let maximumParsedBytes = 64 * 1024

    /// One top-level field, read without looking inside objects and arrays.
    enum Field: Decodable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else {
                self = .other
            }
        }

        /// `a string`, `null`, … for warnings.
        var typeName: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .null: "null"
            case .other: "an object or array"
            }
        }
    }

    /// The fields of a JSON object body, or `nil` (with a warning) for an empty, oversized,
    /// non-JSON or non-object body.
    static func fields(of body: Data, path: String, warnings: inout [String]) -> [String: Field]? {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            warnings.append("\(path): HTTP 200 with an empty body")
            return nil
        }
        if body.count > maximumParsedBytes {
            warnings.append("\(path): HTTP 200 with a \(body.count)-byte body, too large to be a notice document; not parsed")
            return nil
        }
        if let object = try? JSONDecoder().decode([String: Field].self, from: body) { return object }
        if (try? JSONDecoder().decode(Field.self, from: body)) != nil {
            warnings.append("\(path): body is JSON but not an object: \(IMDSText.excerpt(body))")
        } else {
            warnings.append("\(path): body is not JSON: \(IMDSText.excerpt(body))")
        }
        return nil
    }

    /// Reads a time field; when it is missing or unreadable, returns `receivedAt` marked as
    /// estimated, with a warning.
    static func time(_ field: Field?, name: String, hasDocument: Bool, path: String, receivedAt: Date,
                     warnings: inout [String]) -> (Date, Bool) {
        let fallback = "using the earliest plausible time, the moment it was received (\(IMDSDate.format(receivedAt)))"
        switch field {
        case .string(let text)?:
            if let parsed = IMDSDate.parseLenient(text) {
                if let form = parsed.unusualForm {
                    warnings.append("\(path): \(name) '\(IMDSText.clip(text))' is not ISO-8601 UTC; read as \(form)")
                }
                return (parsed.date, false)
            }
            warnings.append("\(path): \(name) '\(IMDSText.clip(text))' is not a timestamp; \(fallback)")
        case .number(let value)?:
            if let parsed = IMDSDate.epoch(value) {
                warnings.append("\(path): \(name) is the number \(value), not an ISO-8601 string; read as \(parsed.unusualForm ?? "epoch")")
                return (parsed.date, false)
            }
            warnings.append("\(path): \(name) is the number \(value), not a plausible time; \(fallback)")
        case let other?:
            warnings.append("\(path): \(name) is \(other.typeName), not a timestamp; \(fallback)")
        case nil:
            warnings.append(hasDocument ? "\(path): no \(name); \(fallback)" : "\(path): no readable \(name); \(fallback)")
        }
        return (receivedAt, true)
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

    /// `text` cut to 64 characters, printable, for messages.
    static func clip(_ text: String) -> String {
        let printable = String(text.prefix(64).unicodeScalars.map { $0.value >= 0x20 && $0.value != 0x7F ? Character($0) : " " })
        return text.count > 64 ? printable + "…" : printable
    }
}
