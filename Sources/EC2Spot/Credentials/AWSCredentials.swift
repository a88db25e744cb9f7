import Foundation

/// An AWS access key pair, optionally with a session token and an expiry.
///
/// The secret and the token never appear in `description`, `debugDescription` or any error
/// EC2Spot throws: printing credentials shows the access key id and `<redacted>`.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The access key id, for example `AKIDEXAMPLE`. Not a secret (it appears in signatures).
    public var accessKeyId: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials, or `nil` for long-term keys.
    public var sessionToken: String?
    /// When temporary credentials stop working, if known.
    public var expiration: Date?

    /// Creates credentials.
    /// - Parameters:
    ///   - accessKeyId: The access key id; must not be empty.
    ///   - secretAccessKey: The secret access key; must not be empty.
    ///   - sessionToken: The session token of temporary credentials (an empty string counts as none).
    ///   - expiration: When temporary credentials expire, if known.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        precondition(!accessKeyId.isEmpty, "AWSCredentials: accessKeyId is empty")
        precondition(!secretAccessKey.isEmpty, "AWSCredentials: secretAccessKey is empty")
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = (sessionToken?.isEmpty ?? true) ? nil : sessionToken
        self.expiration = expiration
    }

    /// A description safe for logs: the access key id, never the secret or the token.
    public var description: String {
        var text = "AWSCredentials(accessKeyId: \(accessKeyId), secretAccessKey: <redacted>"
        if sessionToken != nil { text += ", sessionToken: <redacted>" }
        if let expiration { text += ", expiration: \(expiration)" }
        return text + ")"
    }

    /// Same as ``description``: secrets are redacted.
    public var debugDescription: String { description }
}

extension AWSCredentials: CustomReflectable {
    /// A mirror that hides the secret and the token from `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "accessKeyId": accessKeyId,
            "secretAccessKey": "<redacted>",
            "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
            "expiration": expiration as Any,
        ])
    }
}
