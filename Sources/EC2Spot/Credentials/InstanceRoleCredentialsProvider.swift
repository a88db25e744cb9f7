import Foundation

/// Credentials of the IAM role attached to this instance, read from IMDSv2
/// (`iam/security-credentials/<role>`): the last link of the standard chain on EC2.
///
/// The temporary credentials are cached and fetched again once ``refreshMargin`` before
/// their expiration (IMDS itself rotates them well before that). If a refresh fails while the
/// cached credentials have not yet expired, the cached ones are returned, so a short IMDS
/// hiccup does not fail an EC2 call.
///
/// **Off EC2 the provider ends the chain cleanly.** It returns `nil` (not configured) when
/// IMDS is disabled (`AWS_EC2_METADATA_DISABLED=true`), does not answer (the metadata
/// client's short timeout, one second by default), refuses session tokens (IMDS turned off
/// for the instance), or lists no role. A chain then reports "no AWS credentials found"
/// instead of hanging. A service that answers but says something unusable (a 500, a
/// malformed credentials document) is a configured-but-broken source: that throws
/// ``CredentialsError``.
public actor InstanceRoleCredentialsProvider: CredentialsProvider {
    /// `"instance-role"`.
    public nonisolated var name: String { "instance-role" }

    /// The metadata client the credentials are read through.
    public nonisolated let client: InstanceMetadataClient
    /// How long before expiration cached credentials are replaced.
    public nonisolated let refreshMargin: Duration
    /// How long credentials without an expiration are cached.
    public nonisolated let lifetimeWithoutExpiration: Duration

    private let cache: TemporaryCredentialsCache

    /// Creates a provider.
    /// - Parameters:
    ///   - client: The IMDS client (its endpoint, timeout and transport are used as they are).
    ///   - refreshMargin: Replace cached credentials this long before they expire (default
    ///     five minutes); must not be negative.
    ///   - lifetimeWithoutExpiration: How long to cache credentials whose document has no
    ///     `Expiration` (default ten minutes); must be positive.
    ///   - now: The clock that decides when to refresh.
    public init(client: InstanceMetadataClient, refreshMargin: Duration = .seconds(300),
                lifetimeWithoutExpiration: Duration = .seconds(600),
                now: @escaping @Sendable () -> Date = { Date() }) {
        precondition(refreshMargin >= .zero, "refreshMargin must not be negative, got \(refreshMargin)")
        precondition(lifetimeWithoutExpiration > .zero,
                     "lifetimeWithoutExpiration must be positive, got \(lifetimeWithoutExpiration)")
        self.client = client
        self.refreshMargin = refreshMargin
        self.lifetimeWithoutExpiration = lifetimeWithoutExpiration
        cache = TemporaryCredentialsCache(refreshMargin: refreshMargin,
                                          lifetimeWithoutExpiration: lifetimeWithoutExpiration, now: now)
    }

    /// How many times credentials were read from IMDS (for diagnostics and tests).
    public var fetchCount: Int {
        get async { await cache.fetchCount }
    }

    /// The role's credentials, from the cache while they are fresh, else from IMDS.
    /// - Returns: The credentials, or `nil` when there is no usable IMDS or no role.
    /// - Throws: ``CredentialsError`` when IMDS answers with something unusable and no
    ///   unexpired cached credentials remain; `CancellationError`.
    public func credentials() async throws -> AWSCredentials? {
        let client = client
        let name = name
        return try await cache.credentials {
            let role: InstanceRoleCredentials
            do {
                role = try await client.instanceRoleCredentials()
            } catch let error as IMDSError {
                // "No role here" ends the chain cleanly; a broken IMDS is an error.
                if Self.meansNoInstanceRole(error) { return nil }
                throw CredentialsError(provider: name, message: error.description)
            }
            return AWSCredentials(accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey,
                                  sessionToken: role.sessionToken, expiration: role.expiration)
        }
    }

    /// Whether `error` says "there is no instance role here" rather than "IMDS is broken".
    static func meansNoInstanceRole(_ error: IMDSError) -> Bool {
        switch error.kind {
        case .disabled, .transport, .notFound:
            return true
        case .tokenUnavailable:
            // 403: IMDS is turned off for this instance; 404/405: no IMDSv2 at this endpoint.
            return [403, 404, 405].contains(error.status ?? 0)
        case .invalidEndpoint, .unauthorized, .unexpectedStatus, .invalidResponse:
            return false
        }
    }
}
