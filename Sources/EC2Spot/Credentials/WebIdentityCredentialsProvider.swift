import Foundation

/// Temporary credentials from STS `AssumeRoleWithWebIdentity` with an OIDC token read from a
/// file (EKS IRSA, GitHub Actions, …), cached and renewed shortly before they expire.
///
/// Configured as the AWS CLI does it: `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and
/// `AWS_ROLE_SESSION_NAME`, each falling back to the profile's `web_identity_token_file`,
/// `role_arn` and `role_session_name`. The environment is not read for a profile chosen with
/// `--profile` or reached as a `source_profile`. The token file is read again at every refresh
/// (the platform rotates it).
public struct WebIdentityCredentialsProvider: CredentialsProvider {
    /// `"web-identity"`.
    public var name: String { "web-identity" }
    /// The variables and files the configuration is read from.
    public var environment: AWSEnvironment
    /// The profile whose settings are read.
    public var profile: String
    /// Whether `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME` are read.
    public var readsEnvironmentVariables: Bool
    /// Makes the (unsigned) STS client when credentials are first needed.
    public var makeSTS: @Sendable () throws -> STSClient
    /// The cache of the role's credentials.
    public let cache: TemporaryCredentialsCache

    /// The largest token file accepted (real tokens are a few KiB).
    public static let maximumTokenSize = 64 * 1024

    /// Creates a provider.
    /// - Parameters:
    ///   - environment: The variables and shared files.
    ///   - profile: The profile (default: `environment.profile`).
    ///   - readsEnvironmentVariables: Whether the `AWS_…` variables count (default: unless
    ///     the profile was explicit).
    ///   - makeSTS: Makes the STS client.
    ///   - cache: The cache (default: a new one).
    public init(environment: AWSEnvironment, profile: String? = nil, readsEnvironmentVariables: Bool? = nil,
                makeSTS: @escaping @Sendable () throws -> STSClient, cache: TemporaryCredentialsCache = .init()) {
        self.environment = environment
        self.profile = profile ?? environment.profile
        self.readsEnvironmentVariables = readsEnvironmentVariables ?? !environment.isProfileExplicit
        self.makeSTS = makeSTS
        self.cache = cache
    }

    /// The role's credentials, or nil when no token file is configured.
    /// - Returns: Credentials or nil.
    /// - Throws: ``CredentialsError`` when a token file is configured without a role ARN, the
    ///   token cannot be read, or STS refuses.
    public func credentials() async throws -> AWSCredentials? {
        let settings = try environment.files.settings(profile: profile)
        func value(_ key: String, _ variable: String) -> String? {
            if readsEnvironmentVariables, let text = AWSEnvironment.nonEmpty(environment.variables[variable]) {
                return text
            }
            return AWSEnvironment.nonEmpty(settings[key])
        }
        guard let tokenFile = value("web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE") else { return nil }
        guard let roleArn = value("role_arn", "AWS_ROLE_ARN") else {
            throw CredentialsError(provider: name, message: "a web identity token file is configured (\(tokenFile)) "
                + "but no role: set AWS_ROLE_ARN or role_arn in profile '\(profile)'")
        }
        let sessionName = value("role_session_name", "AWS_ROLE_SESSION_NAME")
        let sts = try makeSTS()
        let name = name
        return try await cache.credentials {
            let token = try Self.readToken(tokenFile, provider: name)
            let session = sessionName ?? "spottrain-session-\(Int(sts.clock.now().timeIntervalSince1970))"
            do {
                return try await sts.assumeRoleWithWebIdentity(roleArn: roleArn, sessionName: session,
                                                               webIdentityToken: token)
            } catch let error as EC2Error {
                throw CredentialsError(provider: name, message: "STS AssumeRoleWithWebIdentity for \(roleArn) failed: \(error)")
            } catch let error as TransportError {
                throw CredentialsError(provider: name, message: "STS AssumeRoleWithWebIdentity for \(roleArn) failed: \(error)")
            }
        }
    }

    static func readToken(_ path: String, provider: String) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let attributes else {
            throw CredentialsError(provider: provider, message: "cannot read the web identity token file \(path)")
        }
        if let size = attributes[.size] as? Int, size > maximumTokenSize {
            throw CredentialsError(provider: provider,
                                   message: "the web identity token file \(path) is larger than \(maximumTokenSize) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CredentialsError(provider: provider, message: "cannot read the web identity token file \(path)")
        }
        let token = String(decoding: data.prefix(maximumTokenSize), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw CredentialsError(provider: provider, message: "the web identity token file \(path) is empty")
        }
        return token
    }
}
