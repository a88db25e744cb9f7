import Foundation

/// A failed S3 request: an error response from S3, a response EC2Spot could not
/// understand or verify, or a request that never got a response.
///
/// Decoded from S3's `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`
/// documents; a response without such a body (a `HEAD`, a proxy's HTML page) gets the code
/// `"HTTP<status>"` and the start of the body as its message. The message names the
/// operation and the `s3://bucket/key` it was about. Descriptions never contain a secret:
/// the client removes the secret key and session token from every message it builds.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// The HTTP status code (0 when no response arrived; 200 for a successful response that
    /// could not be decoded or verified).
    public var status: Int
    /// The S3 error code, for example `NoSuchKey`, `SignatureDoesNotMatch`, `SlowDown`, or one
    /// of EC2Spot's own codes (``malformedResponseCode``, ``checksumMismatchCode``,
    /// ``transportFailureCode``, ``responseTooLargeCode``, ``noCredentialsCode``,
    /// ``invalidBucketNameCode``, ``invalidKeyCode``).
    public var code: String
    /// The human-readable message, starting with the operation and the object it concerned.
    public var message: String
    /// The request id S3 assigned (`x-amz-request-id`), if known.
    public var requestId: String?
    /// The error that caused this one (a ``TransportError``, a ``CredentialsError``…), if any.
    public var underlying: (any Error)?

    /// A 2xx response whose body was not the XML S3 documents.
    public static let malformedResponseCode = "MalformedResponse"
    /// An ETag or checksum in a response does not match the bytes sent or received.
    public static let checksumMismatchCode = "ChecksumMismatch"
    /// No HTTP response arrived (``underlying`` is the ``TransportError``).
    public static let transportFailureCode = "TransportFailure"
    /// The response body is larger than the caller accepts (``underlying`` is the
    /// ``TransportError`` of kind ``TransportError/Kind/responseTooLarge``, or nil when the
    /// client counted the bytes itself); the rest of the body was not read.
    public static let responseTooLargeCode = "ResponseTooLarge"
    /// No credentials could be obtained (``underlying`` is the provider's error, if any).
    public static let noCredentialsCode = "NoCredentials"
    /// A bucket name S3 would refuse, or one that cannot be put in a host name.
    public static let invalidBucketNameCode = "InvalidBucketName"
    /// An object key S3 would refuse or that HTTP stacks cannot carry unchanged.
    public static let invalidKeyCode = "InvalidKey"

    /// Creates an error.
    /// - Parameters:
    ///   - status: The HTTP status code (0 for none).
    ///   - code: The S3 or EC2Spot error code.
    ///   - message: The message (must not contain secrets).
    ///   - requestId: The request id, if known.
    ///   - underlying: The cause, if any.
    public init(status: Int, code: String, message: String, requestId: String? = nil,
                underlying: (any Error)? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.requestId = requestId
        self.underlying = underlying
    }

    /// `"<code> (HTTP <status>): <message> [request <id>]"`.
    public var description: String {
        var text = "\(code) (HTTP \(status)): \(message)"
        if let requestId { text += " [request \(requestId)]" }
        return text
    }

    /// S3 codes that are worth another attempt whatever their status: throttling
    /// (`SlowDown` and the generic AWS codes in ``EC2Error/throttlingCodes``) and the
    /// transient server-side ones (`InternalError`, `ServiceUnavailable`, and
    /// `RequestTimeout`, which S3 sends with status 400).
    public static let retryableCodes: Set<String> = EC2Error.throttlingCodes.union([
        "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
    ])

    /// Whether sending the same request again may succeed: a retryable code, any 5xx, or a
    /// transport failure other than a request the transport refused to send or a response
    /// larger than accepted (asking again gets the same answer).
    public var isRetryable: Bool {
        if code == Self.transportFailureCode, let transport = underlying as? TransportError {
            return transport.kind != .unsupportedRequest && transport.kind != .responseTooLarge
        }
        if [Self.malformedResponseCode, Self.checksumMismatchCode, Self.responseTooLargeCode, Self.noCredentialsCode,
            Self.invalidBucketNameCode, Self.invalidKeyCode].contains(code) { return false }
        return Self.retryableCodes.contains(code) || (500...599).contains(status)
    }

    /// Decodes an error from an S3 response (a non-2xx status, or a 2xx whose body is an
    /// `<Error>` document, as `CompleteMultipartUpload` can return).
    /// - Parameters:
    ///   - response: The response.
    ///   - context: The operation and object, for the message (`"PutObject s3://b/k"`).
    /// - Returns: The error the body describes, or an `HTTP<status>` error for bodies that
    ///   are not an S3 error document (a `HEAD` 404 becomes `NotFound`).
    public static func decode(from response: HTTPResponse, context: String) -> S3Error {
        let headerRequestId = response.headers["x-amz-request-id"] ?? response.headers["x-amzn-requestid"]
        if let root = try? EC2XML.parse(response.body) {
            let error = root.name == "Error" ? root : (root.child("Error") ?? root.child("Errors")?.child("Error"))
            if let error, let code = error.text("Code"), !code.isEmpty {
                let message = error.text("Message") ?? ""
                return S3Error(status: response.status, code: code,
                               message: message.isEmpty ? context : "\(context): \(message)",
                               requestId: error.text("RequestId") ?? root.text("RequestId") ?? headerRequestId)
            }
        }
        if response.body.isEmpty, response.status == 404 {
            return S3Error(status: 404, code: "NotFound", message: "\(context): not found", requestId: headerRequestId)
        }
        return S3Error(status: response.status, code: "HTTP\(response.status)",
                       message: "\(context): " + EC2Error.bodyExcerpt(response.body), requestId: headerRequestId)
    }

    /// Returns this error with every occurrence of the given secrets replaced by `[REDACTED]`
    /// in its message and request id.
    func redacting(_ secrets: [String]) -> S3Error {
        var copy = self
        for secret in secrets where secret.count >= 4 {
            copy.message = copy.message.replacingOccurrences(of: secret, with: "[REDACTED]")
            copy.requestId = copy.requestId?.replacingOccurrences(of: secret, with: "[REDACTED]")
        }
        return copy
    }
}
