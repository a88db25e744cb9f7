import Foundation

/// An error response from EC2 (or a response EC2Spot could not understand).
///
/// Decoded from both envelopes AWS uses, `<Response><Errors><Error>…` (EC2) and
/// `<ErrorResponse><Error>…` (IAM, STS and some front ends), and from non-XML bodies (for
/// example a proxy's HTML page), in which case ``code`` is `"HTTP<status>"` (such as
/// `HTTP502`) and ``message`` holds the start of the body.
///
/// Text taken from a response is redacted of the request's secrets (see
/// ``SecretRedactor``) before it is cut to length, so a server that echoes the request
/// (headers, security token) into its message cannot make EC2Spot print a secret or a
/// fragment of one.
public struct EC2Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status code (200 when a successful response could not be decoded).
    public var status: Int
    /// The AWS error code, for example `InvalidVolume.NotFound` or `RequestLimitExceeded`.
    public var code: String
    /// The human-readable message.
    public var message: String
    /// The request id AWS assigned, if the response carried one.
    public var requestId: String?
    /// For a rejection caused by a wrong local clock (see ``ClockSkewCorrection``): the
    /// server's time minus the local (signing) time, in seconds, from the response's `Date`
    /// header; otherwise `nil`.
    public var clockSkew: TimeInterval?

    /// The longest message kept from a response, in characters (after redaction).
    public static let maximumMessageLength = 1000

    /// Error code used when a 2xx response body is not the XML EC2Spot expected.
    public static let malformedResponseCode = "MalformedResponse"

    /// Creates an error.
    /// - Parameters:
    ///   - status: The HTTP status code.
    ///   - code: The AWS error code.
    ///   - message: The message.
    ///   - requestId: The request id, if known.
    ///   - clockSkew: Server minus local time for a clock-skew rejection (default `nil`).
    public init(status: Int, code: String, message: String, requestId: String? = nil,
                clockSkew: TimeInterval? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.requestId = requestId
        self.clockSkew = clockSkew
    }

    /// Whether AWS rejected the request because of the local clock (``clockSkew`` is set).
    public var isClockSkew: Bool { clockSkew != nil }

    /// `"<code> (HTTP <status>): <message> [request <id>]"`.
    public var description: String {
        var text = "\(code) (HTTP \(status)): \(message)"
        if let requestId { text += " [request \(requestId)]" }
        return text
    }

    /// Whether AWS throttled the request (`RequestLimitExceeded`, `Throttling`,
    /// `ThrottlingException` and the other throttling codes).
    public var isThrottling: Bool { Self.throttlingCodes.contains(code) }

    /// Error codes that mean "slow down".
    public static let throttlingCodes: Set<String> = [
        "RequestLimitExceeded", "Throttling", "ThrottlingException", "ThrottledException",
        "RequestThrottledException", "TooManyRequestsException", "RequestThrottled",
        "SlowDown", "BandwidthLimitExceeded", "EC2ThrottledException",
    ]

    /// Decodes an error from an HTTP response with a non-2xx status.
    /// - Parameters:
    ///   - response: The response.
    ///   - redactor: The secrets of the request, removed from every text taken from the
    ///     response before it is cut to length (default: the secrets registered
    ///     process-wide, ``SecretRedactor/processWide``).
    /// - Returns: The error the body describes, or a synthetic `HTTP<status>` error for
    ///   bodies that are not an AWS error document.
    public static func decode(from response: HTTPResponse,
                              redactor: SecretRedactor = .processWide) -> EC2Error {
        let error = decodeUnredacted(from: response, redactor: redactor)
        let message = redactor.redact(error.message)
        return EC2Error(status: error.status, code: String(redactor.redact(error.code).prefix(200)),
                        message: message.count > maximumMessageLength
                            ? String(message.prefix(maximumMessageLength)) + "…" : message,
                        requestId: error.requestId.map { String(redactor.redact($0).prefix(200)) })
    }

    /// Decodes the fields; the caller redacts and truncates them (XML entities are decoded
    /// here, so a secret written as entities appears only now).
    private static func decodeUnredacted(from response: HTTPResponse, redactor: SecretRedactor) -> EC2Error {
        let headerRequestId = response.headers["x-amzn-requestid"] ?? response.headers["x-amz-request-id"]
        if let root = try? EC2XML.parse(response.body) {
            // <Response><Errors><Error>…</Error></Errors><RequestID>…</RequestID></Response>
            // <ErrorResponse><Error>…</Error><RequestId>…</RequestId></ErrorResponse>
            let error = root.child("Errors")?.child("Error") ?? root.child("Error")
                ?? (root.name == "Error" ? root : nil)
            if let error, let code = error.text("Code"), !code.isEmpty {
                let requestId = root.text("RequestID") ?? root.text("RequestId")
                    ?? root.text("ResponseMetadata", "RequestId") ?? error.text("RequestId") ?? headerRequestId
                return EC2Error(status: response.status, code: code, message: error.text("Message") ?? "",
                                requestId: requestId)
            }
        }
        return EC2Error(status: response.status, code: "HTTP\(response.status)",
                        message: bodyExcerpt(response.body, redactor: redactor), requestId: headerRequestId)
    }

    /// The first 200 characters of a body, on one line, for messages; redacted before it is
    /// cut (and the cut is redacted again, so no fragment at the edge survives).
    static func bodyExcerpt(_ body: Data, redactor: SecretRedactor = .processWide) -> String {
        // Redact a window longer than the excerpt, so a secret that straddles the cut is
        // recognised whole (the window's own cut is 4 KiB past the excerpt's end).
        let text = redactor.redact(String(decoding: body.prefix(4096), as: UTF8.self))
            .split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return "empty response body" }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
