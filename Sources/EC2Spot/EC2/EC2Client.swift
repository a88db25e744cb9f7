import Foundation

/// A client for the EC2 Query API (version 2016-11-15): form-encoded POSTs signed with
/// SigV4, XML responses decoded into typed values, retries with jittered backoff.
///
/// Everything it touches is injected: the ``HTTPTransport`` (a scripted fake in tests,
/// ``AsyncHTTPClientTransport/aws(environment:maximumResponseBytes:)`` in production), the credentials provider, the region and
/// endpoint, the ``EC2Clock`` used for signing dates, backoff and waiters, and the
/// ``RetryPolicy``.
///
/// A rejection caused by a wrong local clock (``EC2Error/isClockSkew``) adjusts
/// ``clockCorrection`` by the skew the response's `Date` header shows and is retried once at
/// once; if that fails too, the error says how far off the local clock appears to be. Every
/// error is redacted of the credentials' secret key and session token (``SecretRedactor``).
public struct EC2Client: Sendable {
    /// The region (signing region).
    public var region: String
    /// The endpoint requests are POSTed to.
    public var endpoint: URL
    /// The credentials source.
    public var credentialsProvider: any CredentialsProvider
    /// How requests travel.
    public var transport: any HTTPTransport
    /// Time and sleeping.
    public var clock: EC2Clock
    /// When to retry.
    public var retryPolicy: RetryPolicy
    /// The timeout of each HTTP exchange.
    public var requestTimeout: Duration
    /// The offset added to ``clock`` when signing, learned from clock-skew rejections; shared
    /// by copies of this client.
    public var clockCorrection = ClockSkewCorrection()

    /// Creates a client.
    /// - Parameters:
    ///   - region: The region, for example `us-east-1`.
    ///   - endpoint: The endpoint (nil: the region's public endpoint).
    ///   - credentialsProvider: The credentials source.
    ///   - transport: How requests travel (default: ``AsyncHTTPClientTransport/aws(environment:maximumResponseBytes:)``,
    ///     which honours the standard proxy variables).
    ///   - clock: Time and sleeping (default: the system clock).
    ///   - retryPolicy: When to retry (default: ``RetryPolicy/standard``).
    ///   - requestTimeout: Timeout of each HTTP exchange.
    public init(region: String, endpoint: URL? = nil, credentialsProvider: any CredentialsProvider,
                transport: any HTTPTransport = AsyncHTTPClientTransport.aws(), clock: EC2Clock = .system,
                retryPolicy: RetryPolicy = .standard, requestTimeout: Duration = .seconds(30)) {
        precondition(!region.isEmpty, "EC2Client: region is empty")
        self.region = region
        self.endpoint = endpoint ?? EC2Configuration.defaultEndpoint(region: region)
        self.credentialsProvider = credentialsProvider
        self.transport = transport
        self.clock = clock
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
    }

    /// Creates a client from a resolved configuration.
    /// - Parameters:
    ///   - configuration: Region, endpoint and credentials.
    ///   - transport: How requests travel.
    ///   - clock: Time and sleeping.
    ///   - retryPolicy: When to retry.
    public init(configuration: EC2Configuration, transport: any HTTPTransport = AsyncHTTPClientTransport.aws(),
                clock: EC2Clock = .system, retryPolicy: RetryPolicy = .standard) {
        self.init(region: configuration.region, endpoint: configuration.endpoint,
                  credentialsProvider: configuration.credentialsProvider, transport: transport,
                  clock: clock, retryPolicy: retryPolicy)
    }

    /// The shared Query-protocol machinery, signing for `ec2`.
    var engine: QueryProtocolEngine {
        QueryProtocolEngine(signingService: "ec2", region: region, endpoint: endpoint,
                            credentialsProvider: credentialsProvider, transport: transport, clock: clock,
                            retryPolicy: retryPolicy, requestTimeout: requestTimeout, clockCorrection: clockCorrection)
    }

    /// Sends one Query-API action, retrying per ``retryPolicy``, and returns the parsed
    /// `<ActionResponse>` element (see ``QueryProtocolEngine/send(_:)``).
    func send(_ query: EC2Query) async throws -> EC2XML.Element {
        try await engine.send(query)
    }

    /// Follows `nextToken` until the last page; stops with an error on a repeated token.
    func paginate<T>(_ query: EC2Query, items: (EC2XML.Element) throws -> [T]) async throws -> [T] {
        try await engine.paginate(query, nextToken: { $0.string("nextToken") }, items: items)
    }
}
