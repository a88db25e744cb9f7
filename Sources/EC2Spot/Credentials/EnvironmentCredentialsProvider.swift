import Foundation

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
/// (or the older `AWS_SECURITY_TOKEN`, which the AWS CLI reads first), with
/// `AWS_CREDENTIAL_EXPIRATION` as their expiry when set.
public struct EnvironmentCredentialsProvider: CredentialsProvider {
    /// `"environment"`.
    public var name: String { "environment" }
    /// The variables read (inject a dictionary in tests).
    public var environment: [String: String]

    /// Creates a provider.
    /// - Parameter environment: The environment variables (default: the process's).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Reads the variables.
    /// - Returns: Credentials, or nil when `AWS_ACCESS_KEY_ID` is unset or empty.
    /// - Throws: ``CredentialsError`` if the access key id is set but the secret is not.
    public func credentials() async throws -> AWSCredentials? {
        try resolve()
    }

    /// The synchronous form of ``credentials()``; registers the secrets it reads with
    /// ``SecretRedactor/register(_:)``, so no output shows them.
    /// - Returns: Credentials or nil.
    /// - Throws: ``CredentialsError`` for a half-set key pair or an `AWS_CREDENTIAL_EXPIRATION`
    ///   that is not an ISO 8601 time.
    public func resolve() throws -> AWSCredentials? {
        guard let keyId = environment["AWS_ACCESS_KEY_ID"], !keyId.isEmpty else { return nil }
        guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw CredentialsError(provider: name,
                                   message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        var expiration: Date?
        if let text = AWSEnvironment.nonEmpty(environment["AWS_CREDENTIAL_EXPIRATION"]) {
            guard let date = IMDSDate.parse(text) else {
                throw CredentialsError(provider: name, message: "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time: \(text)")
            }
            expiration = date
        }
        let token = environment["AWS_SECURITY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["AWS_SESSION_TOKEN"]
        let credentials = AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token,
                                         expiration: expiration)
        SecretRedactor.register(credentials)
        return credentials
    }
}
