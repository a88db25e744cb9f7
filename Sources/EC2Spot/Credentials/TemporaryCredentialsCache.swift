import Foundation

/// Caches temporary credentials and fetches new ones shortly before they expire: the refresh
/// mechanism every provider of temporary credentials shares (assume-role, web identity,
/// container, `credential_process` with an `Expiration`).
///
/// Concurrent callers share one fetch. Credentials without an expiration are kept for
/// ``lifetimeWithoutExpiration`` (for good by default: long-term keys from a
/// `credential_process` that names no `Expiration`). When a refresh fails, or finds the source
/// gone, while the cached credentials have not yet expired, the cached ones are returned, so a
/// short outage of the source does not fail a request.
public actor TemporaryCredentialsCache {
    /// How long before expiration cached credentials are replaced.
    public nonisolated let refreshMargin: Duration
    /// How long credentials without an expiration are kept (nil: for good).
    public nonisolated let lifetimeWithoutExpiration: Duration?

    private let now: @Sendable () -> Date
    private var cached: AWSCredentials?
    private var refreshAfter: Date = .distantPast
    private var pending: Task<AWSCredentials?, any Error>?
    private var fetches = 0

    /// Creates an empty cache.
    /// - Parameters:
    ///   - refreshMargin: Replace credentials this long before they expire (default five
    ///     minutes); must not be negative.
    ///   - lifetimeWithoutExpiration: How long to keep credentials that have no expiration
    ///     (nil, the default: for good); must be positive.
    ///   - now: The clock that decides when to refresh.
    public init(refreshMargin: Duration = .seconds(300), lifetimeWithoutExpiration: Duration? = nil,
                now: @escaping @Sendable () -> Date = { Date() }) {
        precondition(refreshMargin >= .zero, "refreshMargin must not be negative, got \(refreshMargin)")
        if let lifetimeWithoutExpiration {
            precondition(lifetimeWithoutExpiration > .zero,
                         "lifetimeWithoutExpiration must be positive, got \(lifetimeWithoutExpiration)")
        }
        self.refreshMargin = refreshMargin
        self.lifetimeWithoutExpiration = lifetimeWithoutExpiration
        self.now = now
    }

    /// How many times `fetch` produced credentials (for diagnostics and tests).
    public var fetchCount: Int { fetches }

    /// The cached credentials while they are fresh, else the result of `fetch`.
    /// - Parameter fetch: Obtains new credentials (nil: the source is not configured).
    /// - Returns: Credentials, or nil when `fetch` returned nil and nothing unexpired is cached.
    /// - Throws: What `fetch` threw, when no unexpired cached credentials remain.
    public func credentials(fetch: @escaping @Sendable () async throws -> AWSCredentials?) async throws -> AWSCredentials? {
        if let cached, now() < refreshAfter { return cached }
        if let pending { return try await pending.value }
        let task = Task { try await fetch() }
        pending = task
        defer { pending = nil }
        let fresh: AWSCredentials?
        do {
            fresh = try await task.value
        } catch {
            if let cached, let expiration = cached.expiration, now() < expiration { return cached }
            throw error
        }
        guard let fresh else {
            if let cached, let expiration = cached.expiration, now() < expiration { return cached }
            cached = nil
            refreshAfter = .distantPast
            return nil
        }
        fetches += 1
        SecretRedactor.register(fresh)
        cached = fresh
        if let expiration = fresh.expiration {
            refreshAfter = expiration.addingTimeInterval(-Self.seconds(refreshMargin))
        } else if let lifetimeWithoutExpiration {
            refreshAfter = now().addingTimeInterval(Self.seconds(lifetimeWithoutExpiration))
        } else {
            refreshAfter = .distantFuture
        }
        return fresh
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let components = duration.components
        return TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}
