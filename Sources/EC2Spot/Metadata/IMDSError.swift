import Foundation

/// A failure talking to the instance-metadata service (IMDS).
public struct IMDSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// IMDS use is turned off (`AWS_EC2_METADATA_DISABLED=true`) and no endpoint was given.
        case disabled
        /// The configured endpoint is not a usable `http://` URL.
        case invalidEndpoint
        /// No HTTP response (timeout, refused or dropped connection, malformed HTTP); see
        /// ``IMDSError/transportError``.
        case transport
        /// The session token request (`PUT /latest/api/token`) failed; ``IMDSError/status``
        /// says how (400: bad TTL header, 403: IMDS disabled or a forwarded request).
        case tokenUnavailable
        /// The service answered 401 even with a freshly fetched token.
        case unauthorized
        /// The path does not exist (404) where a value is required.
        case notFound
        /// Any other non-success status (for example 500, 503, or 429 when throttled).
        case unexpectedStatus
        /// A 200 response whose body could not be understood.
        case invalidResponse
    }

    /// What went wrong.
    public var kind: Kind
    /// The HTTP status, when a response arrived.
    public var status: Int?
    /// The metadata path requested, for example `/latest/meta-data/instance-id`.
    public var path: String
    /// A human-readable explanation. Never contains tokens or credentials.
    public var message: String
    /// The transport failure behind a ``Kind/transport`` error.
    public var transportError: TransportError?

    /// Creates an error.
    /// - Parameters:
    ///   - kind: What went wrong.
    ///   - status: The HTTP status, if a response arrived.
    ///   - path: The metadata path requested.
    ///   - message: A human-readable explanation without secrets.
    ///   - transportError: The underlying transport failure, for ``Kind/transport``.
    public init(_ kind: Kind, status: Int? = nil, path: String, message: String,
                transportError: TransportError? = nil) {
        self.kind = kind
        self.status = status
        self.path = path
        self.message = message
        self.transportError = transportError
    }

    /// Whether the request timed out (a transport timeout).
    public var isTimeout: Bool { transportError?.kind == .timedOut }

    /// `IMDS <path>: <kind> (HTTP <status>): <message>`.
    public var description: String {
        var text = "IMDS \(path): \(kind)"
        if let status { text += " (HTTP \(status))" }
        return text + ": " + message
    }
}
