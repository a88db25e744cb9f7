import Foundation

/// Credentials from a profile in the shared credentials/config files
/// (`aws_access_key_id`, `aws_secret_access_key`, and `aws_security_token` or
/// `aws_session_token`, in the AWS CLI's order).
public struct ProfileCredentialsProvider: CredentialsProvider {
    /// `"profile <name>"`.
    public var name: String { "profile \(profile)" }
    /// The files read.
    public var files: SharedConfigFiles
    /// The profile name.
    public var profile: String

    /// Creates a provider.
    /// - Parameters:
    ///   - files: The shared files.
    ///   - profile: The profile name (see ``SharedConfigFiles/profileName(environment:)``).
    public init(files: SharedConfigFiles, profile: String = "default") {
        self.files = files
        self.profile = profile
    }

    /// Reads the profile.
    /// - Returns: Credentials, or nil when the profile has no `aws_access_key_id`.
    /// - Throws: ``CredentialsError`` for unreadable files or a key id without a secret.
    public func credentials() async throws -> AWSCredentials? {
        try resolve()
    }

    /// The synchronous form of ``credentials()``; registers the secrets it reads with
    /// ``SecretRedactor/register(_:)``, so no output shows them.
    /// - Returns: Credentials or nil.
    /// - Throws: ``CredentialsError``.
    public func resolve() throws -> AWSCredentials? {
        let settings = try files.settings(profile: profile)
        guard let keyId = settings["aws_access_key_id"], !keyId.isEmpty else { return nil }
        guard let secret = settings["aws_secret_access_key"], !secret.isEmpty else {
            throw CredentialsError(provider: name, message: "aws_access_key_id is set but aws_secret_access_key is not")
        }
        let credentials = AWSCredentials(accessKeyId: keyId, secretAccessKey: secret,
                              sessionToken: settings["aws_security_token"].flatMap { $0.isEmpty ? nil : $0 }
                                  ?? settings["aws_session_token"])
        SecretRedactor.register(credentials)
        return credentials
    }
}
