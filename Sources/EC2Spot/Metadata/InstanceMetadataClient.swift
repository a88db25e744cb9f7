import Foundation

/// A client for the EC2 instance-metadata service, version 2 (IMDSv2, session tokens).
///
/// Every request first needs a session token from `PUT /latest/api/token` (sent with
/// `X-aws-ec2-metadata-token-ttl-seconds`); the token is cached and sent as
/// `X-aws-ec2-metadata-token`. It is fetched again shortly before its TTL runs out (judged
/// by the injected clock) and whenever the service answers 401.
///
/// **Never through a proxy.** The default transport is
/// ``AsyncHTTPClientTransport/instanceMetadata(maximumResponseBytes:connectTimeout:)``, which
/// connects directly to the endpoint's IP literal (or `localhost`): it never reads
/// `http_proxy`/`HTTP_PROXY`/`NO_PROXY`, does no DNS lookup, and gives up connecting after
/// one second. A caller can pass another transport, for example a scripted fake, but nothing
/// in this client adds a proxy.
///
/// **Endpoint.** In order: the `endpoint` parameter; `AWS_EC2_METADATA_SERVICE_ENDPOINT`;
/// with `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`, `http://[fd00:ec2::254]`; otherwise the
/// real `http://169.254.169.254`, used only when nothing is set. With
/// `AWS_EC2_METADATA_DISABLED=true` and no explicit endpoint parameter every request throws
/// ``IMDSError/Kind/disabled`` without touching the network.
///
/// Requests use short timeouts (one second by default), so code running off EC2 learns
/// quickly that there is no IMDS.
public actor InstanceMetadataClient {
    /// The real IMDS IPv4 endpoint, used only when nothing else is configured.
    public static let defaultEndpoint = URL(string: "http://169.254.169.254")!
    /// The real IMDS IPv6 endpoint (Nitro instances), used with
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`.
    public static let defaultIPv6Endpoint = URL(string: "http://[fd00:ec2::254]")!
    /// The environment variable that overrides the endpoint.
    public static let endpointVariable = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
    /// The environment variable that picks the IPv4 or IPv6 default endpoint.
    public static let endpointModeVariable = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"
    /// The environment variable that turns IMDS off (`true`).
    public static let disabledVariable = "AWS_EC2_METADATA_DISABLED"
    /// The largest token TTL IMDS accepts, in seconds (six hours).
    public static let maximumTokenTTLSeconds = 21600

    /// The base URL requests go to, for example `http://169.254.169.254`.
    public nonisolated let endpoint: URL
    /// The TTL requested for session tokens, in seconds.
    public nonisolated let tokenTTLSeconds: Int
    /// The timeout of each request (token or metadata).
    public nonisolated let requestTimeout: Duration

    private let transport: any HTTPTransport
    let now: @Sendable () -> Date
    private let isDisabled: Bool
    private var cachedToken: CachedToken?
    private var pendingToken: Task<CachedToken, any Error>?
    private var tokenFetches = 0

    private struct CachedToken: Sendable {
        var value: String
        var refreshAfter: Date
    }

    /// Creates a client.
    /// - Parameters:
    ///   - endpoint: The IMDS base URL (`http://host[:port]`); `nil` to take it from
    ///     `environment` or the real default.
    ///   - environment: The variables to consult (defaults to the process environment).
    ///   - transport: How requests travel (default: the instance-metadata
    ///     ``AsyncHTTPClientTransport``, no proxy, limited to 1 MiB responses).
    ///   - tokenTTLSeconds: The session token TTL to request, 1…21600 (default 21600).
    ///   - requestTimeout: The timeout of each request (default one second); must be positive.
    ///   - now: The clock that decides when the token must be refreshed, and when a notice
    ///     document with an unreadable time was received.
    /// - Throws: ``IMDSError`` with kind ``IMDSError/Kind/invalidEndpoint`` when the endpoint
    ///   (parameter or variable) is not an `http://` URL with a host.
    public init(endpoint: URL? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                transport: any HTTPTransport = AsyncHTTPClientTransport.instanceMetadata(maximumResponseBytes: 1 << 20),
                tokenTTLSeconds: Int = InstanceMetadataClient.maximumTokenTTLSeconds,
                requestTimeout: Duration = .seconds(1),
                now: @escaping @Sendable () -> Date = { Date() }) throws {
        precondition((1...Self.maximumTokenTTLSeconds).contains(tokenTTLSeconds),
                     "tokenTTLSeconds must be in 1...21600, got \(tokenTTLSeconds)")
        precondition(requestTimeout > .zero, "requestTimeout must be positive, got \(requestTimeout)")
        self.endpoint = try Self.resolveEndpoint(explicit: endpoint, environment: environment)
        let disabledValue = environment[Self.disabledVariable]?.trimmingCharacters(in: .whitespaces).lowercased()
        self.isDisabled = endpoint == nil && disabledValue == "true"
        self.transport = transport
        self.tokenTTLSeconds = tokenTTLSeconds
        self.requestTimeout = requestTimeout
        self.now = now
    }

    /// Decides the endpoint without making any request.
    /// - Parameters:
    ///   - explicit: An endpoint given by the caller (wins when set).
    ///   - environment: The variables to consult: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, then
    ///     `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` (`IPv4` or `IPv6`).
    /// - Returns: The base URL, without a trailing slash.
    /// - Throws: ``IMDSError`` with kind ``IMDSError/Kind/invalidEndpoint`` for a URL that is
    ///   not `http://host[:port]`, or an unknown endpoint mode.
    public static func resolveEndpoint(explicit: URL?, environment: [String: String]) throws -> URL {
        if let explicit {
            return try validated(explicit, source: "endpoint parameter")
        }
        if let text = environment[endpointVariable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            guard let url = URL(string: text) else {
                throw IMDSError(.invalidEndpoint, path: "", message: "\(endpointVariable) '\(text)' is not a URL")
            }
            return try validated(url, source: endpointVariable)
        }
        switch environment[endpointModeVariable]?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "", "ipv4": return defaultEndpoint
        case "ipv6": return defaultIPv6Endpoint
        case let other?:
            throw IMDSError(.invalidEndpoint, path: "",
                            message: "\(endpointModeVariable) must be IPv4 or IPv6, not '\(other)'")
        }
    }

    private static func validated(_ url: URL, source: String) throws -> URL {
        guard url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty else {
            throw IMDSError(.invalidEndpoint, path: "",
                            message: "\(source) '\(url.absoluteString)' must be an http:// URL with a host (IMDS is plain HTTP)")
        }
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        guard let trimmed = URL(string: text) else {
            throw IMDSError(.invalidEndpoint, path: "", message: "\(source) '\(url.absoluteString)' is not a valid URL")
        }
        return trimmed
    }

    /// How many session tokens this client has fetched so far (for diagnostics and tests).
    public var tokenFetchCount: Int { tokenFetches }

    /// Fetches a metadata value.
    /// - Parameter path: The path below the endpoint, for example
    ///   `/latest/meta-data/instance-id`; must start with `/`.
    /// - Returns: The body, or `nil` when the service answers 404.
    /// - Throws: ``IMDSError`` for every other failure (see ``IMDSError/Kind``), or
    ///   `CancellationError`.
    public func fetch(_ path: String) async throws -> Data? {
        precondition(path.hasPrefix("/"), "IMDS path must start with '/', got '\(path)'")
        if isDisabled {
            throw IMDSError(.disabled, path: path,
                            message: "\(Self.disabledVariable) is true and no endpoint was given")
        }
        let token = try await currentToken(path: path)
        var response = try await get(path, token: token)
        if response.status == 401 {
            // The token expired or was revoked early: drop it and try once with a new one.
            if cachedToken?.value == token { cachedToken = nil }
            let fresh = try await currentToken(path: path)
            response = try await get(path, token: fresh)
            if response.status == 401 {
                throw IMDSError(.unauthorized, status: 401, path: path,
                                message: "IMDS rejected a freshly issued session token")
            }
        }
        switch response.status {
        case 200: return response.body
        case 404: return nil
        default:
            // A credentials document is never quoted: whatever its status, it may hold secrets.
            let body = path.hasPrefix(Path.securityCredentials)
                ? "\(response.body.count)-byte body not shown (it may hold credentials)"
                : IMDSText.excerpt(response.body)
            throw IMDSError(.unexpectedStatus, status: response.status, path: path,
                            message: "unexpected HTTP \(response.status): \(body)")
        }
    }

    /// Fetches a metadata value that must exist, as trimmed UTF-8 text.
    /// - Parameter path: The path below the endpoint, starting with `/`.
    /// - Returns: The non-empty text.
    /// - Throws: ``IMDSError`` (kind ``IMDSError/Kind/notFound`` for 404,
    ///   ``IMDSError/Kind/invalidResponse`` for an empty or non-UTF-8 body, and the kinds of
    ///   ``fetch(_:)``).
    public func text(_ path: String) async throws -> String {
        guard let body = try await fetch(path) else {
            throw IMDSError(.notFound, status: 404, path: path, message: "not found")
        }
        guard let text = String(data: body, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              !text.isEmpty else {
            throw IMDSError(.invalidResponse, status: 200, path: path, message: "empty or non-UTF-8 body")
        }
        return text
    }

    // MARK: - Token

    /// Returns the cached token, or fetches one (sharing a fetch already in flight).
    private func currentToken(path: String) async throws -> String {
        if let cachedToken, now() < cachedToken.refreshAfter {
            return cachedToken.value
        }
        if let pendingToken {
            return try await pendingToken.value.value
        }
        let task = Task { try await self.requestToken(path: path) }
        pendingToken = task
        defer { pendingToken = nil }
        let token = try await task.value
        cachedToken = token
        return token.value
    }

    private func requestToken(path: String) async throws -> CachedToken {
        let tokenPath = "/latest/api/token"
        let issuedAt = now()
        let response = try await exchange(HTTPRequest(
            method: "PUT", url: url(tokenPath),
            headers: ["x-aws-ec2-metadata-token-ttl-seconds": String(tokenTTLSeconds)],
            timeout: requestTimeout), path: tokenPath)
        tokenFetches += 1
        guard response.status == 200 else {
            let reason: String
            switch response.status {
            case 400: reason = "the TTL header was rejected"
            case 403: reason = "IMDS is disabled for this instance, or the request was forwarded"
            case 404, 405: reason = "IMDSv2 is not available at this endpoint"
            default: reason = "unexpected HTTP \(response.status)"
            }
            throw IMDSError(.tokenUnavailable, status: response.status, path: tokenPath,
                            message: "session token request failed (needed for \(path)): \(reason)")
        }
        guard let token = String(data: response.body, encoding: .utf8)?
                .trimmingCharacters(in: .whitespacesAndNewlines),
              !token.isEmpty, token.utf8.count <= 4096,
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw IMDSError(.invalidResponse, status: 200, path: tokenPath,
                            message: "session token response is empty or not printable ASCII (\(response.body.count) bytes)")
        }
        var lifetime = tokenTTLSeconds
        if let granted = response.headers["x-aws-ec2-metadata-token-ttl-seconds"].flatMap({ Int($0) }),
           granted > 0 {
            lifetime = min(lifetime, granted)
        }
        // Refresh a minute early (or a quarter of the TTL for short TTLs), so a token never
        // expires between the check and its use.
        let margin = min(60.0, Double(lifetime) / 4)
        return CachedToken(value: token, refreshAfter: issuedAt.addingTimeInterval(Double(lifetime) - margin))
    }

    // MARK: - Requests

    private func get(_ path: String, token: String) async throws -> HTTPResponse {
        try await exchange(HTTPRequest(method: "GET", url: url(path),
                                       headers: ["x-aws-ec2-metadata-token": token],
                                       timeout: requestTimeout), path: path)
    }

    private func url(_ path: String) -> URL {
        guard let url = URL(string: endpoint.absoluteString + path) else {
            preconditionFailure("IMDS path '\(path)' does not form a valid URL with \(endpoint)")
        }
        return url
    }

    private func exchange(_ request: HTTPRequest, path: String) async throws -> HTTPResponse {
        do {
            return try await transport.send(request)
        } catch let error as TransportError {
            throw IMDSError(.transport, path: path, message: error.description, transportError: error)
        }
    }
}
