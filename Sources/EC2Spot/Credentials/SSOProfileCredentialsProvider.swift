import Foundation

/// Recognises a profile set up for AWS IAM Identity Center (SSO) and explains that EC2Spot
/// cannot use it, instead of letting the chain end in "no AWS credentials found".
///
/// A profile counts as SSO when it names `sso_session`, `sso_start_url`, `sso_account_id` or
/// `sso_role_name`. EC2Spot does not implement the SSO token cache and portal calls; export
/// the profile's credentials into the environment instead.
public struct SSOProfileCredentialsProvider: CredentialsProvider {
    /// `"sso"`.
    public var name: String { "sso" }
    /// The shared files.
    public var files: SharedConfigFiles
    /// The profile checked.
    public var profile: String

    /// The settings that mark an SSO profile.
    public static let ssoKeys = ["sso_session", "sso_start_url", "sso_account_id", "sso_role_name"]

    /// Creates a provider.
    /// - Parameters:
    ///   - files: The shared files.
    ///   - profile: The profile checked.
    public init(files: SharedConfigFiles, profile: String) {
        self.files = files
        self.profile = profile
    }

    /// Returns nil for a profile without SSO settings.
    /// - Returns: Always nil when it returns.
    /// - Throws: ``CredentialsError`` naming the profile and how to export its credentials,
    ///   when the profile is an SSO profile.
    public func credentials() async throws -> AWSCredentials? {
        let settings = try files.settings(profile: profile)
        guard Self.ssoKeys.contains(where: { settings[$0] != nil }) else { return nil }
        throw CredentialsError(provider: name, message: "profile '\(profile)' uses AWS IAM Identity Center (SSO), "
            + "which spottrain does not support; export its credentials instead, for example "
            + "eval \"$(aws configure export-credentials --profile \(profile) --format env)\"")
    }
}
