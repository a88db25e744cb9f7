import Foundation

/// Credentials from the container credentials endpoint (ECS task roles, EKS Pod Identity,
/// and any local server that speaks the same protocol), cached and renewed shortly before
/// they expire.
///
/// Configured by the variables the AWS CLI reads:
/// - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`: a path on the ECS agent at
///   `http://169.254.170.2` (``relativeBase``, injected in tests);
/// - else `AWS_CONTAINER_CREDENTIALS_FULL_URI`: a full URL, which must be `https`, or `http`
///   to a loopback address or one of the container hosts (`169.254.170.2`, `169.254.170.23`,
///   `fd00:ec2::23`, `localhost`);
/// - `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at every fetch), else
///   `AWS_CONTAINER_AUTHORIZATION_TOKEN`: sent as the `Authorization` header.
///
/// The answer is JSON with `AccessKeyId`, `SecretAccessKey`, `Token` and `Expiration`. Each
/// fetch makes up to three attempts with a two-second timeout, as the CLI does.
public struct ContainerCredentialsProvider: CredentialsProvider {
    /// `"container"`.
    public var name: String { "container" }
    /// The environment variables.
    public var environment: [String: String]
    /// How requests travel.
    public var transport: any HTTPTransport
    /// The base a relative URI is appended to.
    public var relativeBase: URL
    /// Attempts per fetch.
    public var attempts: Int
    /// The timeout of each attempt.
    public var timeout: Duration
    /// Time and sleeping between attempts.
    public var clock: EC2Clock
    /// The cache of the credentials.
    public let cache: TemporaryCredentialsCache

    /// The ECS agent's credentials endpoint.
    public static let defaultRelativeBase = URL(string: "http://169.254.170.2")!
    /// Hosts (besides loopback addresses) a plain-http full URI may name.
    public static let allowedHTTPHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"]
    /// The largest response body accepted.
    public static let maximumResponseSize = 64 * 1024

    /// Creates a provider.
    /// - Parameters:
    ///   - environment: The variables (default: the process's).
    ///   - transport: How requests travel.
    ///   - relativeBase: Where a relative URI points (default: `http://169.254.170.2`).
    ///   - attempts: Attempts per fetch (≥ 1).
    ///   - timeout: Timeout of each attempt.
    ///   - clock: Time and sleeping.
    ///   - cache: The cache (default: a new one).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, transport: any HTTPTransport,
                relativeBase: URL = ContainerCredentialsProvider.defaultRelativeBase, attempts: Int = 3,
                timeout: Duration = .seconds(2), clock: EC2Clock = .system, cache: TemporaryCredentialsCache? = nil) {
        precondition(attempts >= 1, "ContainerCredentialsProvider: attempts \(attempts) < 1")
        self.environment = environment
        self.transport = transport
        self.relativeBase = relativeBase
        self.attempts = attempts
        self.timeout = timeout
        self.clock = clock
        self.cache = cache ?? TemporaryCredentialsCache(now: clock.now)
    }

    /// The URL credentials are fetched from, or nil when neither variable is set.
    /// - Returns: The URL or nil.
    /// - Throws: ``CredentialsError`` for a malformed URL or a plain-http host that is not allowed.
    public func endpoint() throws -> URL? {
        if let relative = AWSEnvironment.nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) {
            let path = relative.hasPrefix("/") ? relative : "/" + relative
            var base = relativeBase.absoluteString
            while base.hasSuffix("/") { base.removeLast() }
            guard let url = URL(string: base + path) else {
                throw CredentialsError(provider: name, message: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a URL path: \(relative)")
            }
            return url
        }
        guard let full = AWSEnvironment.nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]) else { return nil }
        guard let url = URL(string: full), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw CredentialsError(provider: name, message: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: \(full)")
        }
        if scheme == "https" { return url }
        guard scheme == "http" else {
            throw CredentialsError(provider: name, message: "AWS_CONTAINER_CREDENTIALS_FULL_URI must be http(s), not \(full)")
        }
        let bareHost = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        guard Self.isLoopback(bareHost) || Self.allowedHTTPHosts.contains(bareHost) else {
            throw CredentialsError(provider: name, message: "AWS_CONTAINER_CREDENTIALS_FULL_URI host '\(host)' is not allowed "
                + "over http: use https, a loopback address, or one of "
                + Self.allowedHTTPHosts.sorted().joined(separator: ", "))
        }
        return url
    }

    /// Credentials from the endpoint, or nil when neither URI variable is set.
    /// - Returns: Credentials or nil.
    /// - Throws: ``CredentialsError`` for a disallowed URL, an unreadable token file, a
    ///   token with a line break, or an endpoint that fails all attempts or answers nonsense.
    public func credentials() async throws -> AWSCredentials? {
        guard let url = try endpoint() else { return nil }
        let provider = self
        return try await cache.credentials { try await provider.fetch(url) }
    }

    private func authorizationToken() throws -> String? {
        var token: String?
        if let path = AWSEnvironment.nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CredentialsError(provider: name, message: "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path)")
            }
            // A file written by `echo` ends with a newline: that one is not part of the token.
            token = String(decoding: data.prefix(Self.maximumResponseSize), as: UTF8.self)
                .trimmingCharacters(in: .newlines)
        } else if let value = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
            token = value
        }
        if let token, token.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) {
            throw CredentialsError(provider: name, message: "the container authorization token contains a line break")
        }
        return token
    }

    private func fetch(_ url: URL) async throws -> AWSCredentials {
        var headers = ["accept": "application/json"]
        if let token = try authorizationToken() { headers["authorization"] = token }
        let request = HTTPRequest(method: "GET", url: url, headers: headers, timeout: timeout)
        var failure = ""
        for attempt in 1...attempts {
            if attempt > 1 { try await clock.sleep(.seconds(1)) }
            do {
                let response = try await transport.send(request)
                guard response.status == 200 else {
                    failure = "HTTP \(response.status)"
                    continue
                }
                return try decode(response.body, from: url)
            } catch let error as TransportError {
                failure = error.description
            }
        }
        throw CredentialsError(provider: name, message: "\(url.absoluteString) failed \(attempts) attempts, last: \(failure)")
    }

    private func decode(_ body: Data, from url: URL) throws -> AWSCredentials {
        // Never echo the body: it holds the secret key and the token.
        guard body.count <= Self.maximumResponseSize,
              let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw CredentialsError(provider: name, message: "\(url.absoluteString) did not answer a JSON object")
        }
        guard let keyId = object["AccessKeyId"] as? String, !keyId.isEmpty,
              let secret = object["SecretAccessKey"] as? String, !secret.isEmpty,
              let token = object["Token"] as? String, !token.isEmpty else {
            throw CredentialsError(provider: name,
                                   message: "\(url.absoluteString) answered without AccessKeyId, SecretAccessKey or Token")
        }
        guard let text = object["Expiration"] as? String, let expiration = IMDSDate.parse(text) else {
            throw CredentialsError(provider: name, message: "\(url.absoluteString) answered without a valid Expiration")
        }
        return AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token, expiration: expiration)
    }

    /// Whether `host` is an IPv4 address in 127.0.0.0/8 or the IPv6 loopback address.
    static func isLoopback(_ host: String) -> Bool {
        if host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
                && (Int(part) ?? 256) <= 255
        }
    }
}
