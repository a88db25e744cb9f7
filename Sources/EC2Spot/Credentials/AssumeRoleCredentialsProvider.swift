import Foundation

/// Temporary credentials of an IAM role, obtained with STS `AssumeRole` using the
/// credentials of a source provider (a `source_profile` or a `credential_source`), cached
/// and renewed shortly before they expire.
public struct AssumeRoleCredentialsProvider: CredentialsProvider {
    /// `"assume-role <role arn>"`.
    public var name: String { "assume-role \(roleArn)" }
    /// The role to assume.
    public var roleArn: String
    /// `RoleSessionName`.
    public var sessionName: String
    /// `ExternalId`, if the role's trust policy asks for one.
    public var externalId: String?
    /// `DurationSeconds`, if set.
    public var durationSeconds: Int?
    /// Where the credentials that sign `AssumeRole` come from.
    public var source: any CredentialsProvider
    /// The STS client.
    public var sts: STSClient
    /// The cache of the role's credentials.
    public let cache: TemporaryCredentialsCache

    /// Creates a provider.
    /// - Parameters:
    ///   - roleArn: The role to assume; must not be empty.
    ///   - sessionName: `RoleSessionName` (nil: `spottrain-session-<unix time>`, like the CLI's
    ///     `botocore-session-<unix time>`).
    ///   - externalId: `ExternalId`.
    ///   - durationSeconds: `DurationSeconds`.
    ///   - source: The source credentials.
    ///   - sts: The STS client.
    ///   - cache: The cache (default: a new one using `sts.clock`).
    public init(roleArn: String, sessionName: String? = nil, externalId: String? = nil, durationSeconds: Int? = nil,
                source: any CredentialsProvider, sts: STSClient, cache: TemporaryCredentialsCache? = nil) {
        precondition(!roleArn.isEmpty, "AssumeRoleCredentialsProvider: roleArn is empty")
        self.roleArn = roleArn
        self.sessionName = sessionName.flatMap { $0.isEmpty ? nil : $0 }
            ?? "spottrain-session-\(Int(sts.clock.now().timeIntervalSince1970))"
        self.externalId = externalId
        self.durationSeconds = durationSeconds
        self.source = source
        self.sts = sts
        self.cache = cache ?? TemporaryCredentialsCache(now: sts.clock.now)
    }

    /// The role's credentials, from the cache while they are fresh.
    /// - Returns: Credentials.
    /// - Throws: ``CredentialsError`` when the source has no credentials or STS refuses;
    ///   the source's own errors.
    public func credentials() async throws -> AWSCredentials? {
        let provider = self
        return try await cache.credentials { try await provider.assume() }
    }

    private func assume() async throws -> AWSCredentials {
        guard let sourceCredentials = try await source.credentials() else {
            throw CredentialsError(provider: name, message: "the source (\(source.name)) has no credentials")
        }
        do {
            return try await sts.assumeRole(roleArn: roleArn, sessionName: sessionName, externalId: externalId,
                                            durationSeconds: durationSeconds, credentials: sourceCredentials)
        } catch let error as EC2Error {
            throw CredentialsError(provider: name, message: "STS AssumeRole at \(sts.endpoint.absoluteString) failed: \(error)")
        } catch let error as TransportError {
            throw CredentialsError(provider: name, message: "STS AssumeRole at \(sts.endpoint.absoluteString) failed: \(error)")
        }
    }
}
