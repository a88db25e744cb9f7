import Foundation

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
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
    /// - Throws: ``CredentialsError`` for a half-set key pair.
    public func resolve() throws -> AWSCredentials? {
        guard let keyId = environment["AWS_ACCESS_KEY_ID"], !keyId.isEmpty else { return nil }
        guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw CredentialsError(provider: name,
                                   message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        let credentials = AWSCredentials(accessKeyId: keyId, secretAccessKey: secret,
                                         sessionToken: environment["AWS_SESSION_TOKEN"])
        SecretRedactor.register(credentials)
        return credentials
    }
}
