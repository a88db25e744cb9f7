import Foundation

/// A client for the EC2 Auto Scaling Query API (version 2011-01-01, signing service
/// `autoscaling`): the few actions a self-healing spot job needs (create, describe, resize and
/// delete a group; list its scaling activities).
///
/// It shares ``EC2Client``'s machinery: the same form encoding, XML reader, ``RetryPolicy``,
/// clock-skew correction, ``SigV4Signer`` and redacted ``EC2Error``s (Auto Scaling answers
/// errors in the `<ErrorResponse>` envelope, for example `AlreadyExists`, `ValidationError`,
/// `Throttling`; see ``EC2Error/isAlreadyExists`` and
/// ``EC2Error/isAutoScalingGroupNotFound``).
public struct AutoScalingClient: Sendable {
    /// The Auto Scaling API version every request names.
    public static let apiVersion = "2011-01-01"
    /// The XML namespace of Auto Scaling responses (namespaces are ignored when decoding).
    public static let xmlNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

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
    ///   - region: The region, for example `us-east-1`; must not be empty.
    ///   - endpoint: The endpoint (nil: `https://autoscaling.<region>.amazonaws.com`).
    ///   - credentialsProvider: The credentials source.
    ///   - transport: How requests travel (default:
    ///     ``AsyncHTTPClientTransport/aws(environment:maximumResponseBytes:)``).
    ///   - clock: Time and sleeping (default: the system clock).
    ///   - retryPolicy: When to retry (default: ``RetryPolicy/standard``).
    ///   - requestTimeout: Timeout of each HTTP exchange.
    public init(region: String, endpoint: URL? = nil, credentialsProvider: any CredentialsProvider,
                transport: any HTTPTransport = AsyncHTTPClientTransport.aws(), clock: EC2Clock = .system,
                retryPolicy: RetryPolicy = .standard, requestTimeout: Duration = .seconds(30)) {
        precondition(!region.isEmpty, "AutoScalingClient: region is empty")
        self.region = region
        self.endpoint = endpoint ?? URL(string: AWSService.autoScaling.defaultEndpoint(region: region))
            ?? EC2Configuration.defaultEndpoint(region: region)
        self.credentialsProvider = credentialsProvider
        self.transport = transport
        self.clock = clock
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
    }

    /// Creates a client whose region and endpoint come from the standard AWS settings (see
    /// ``AWSEnvironment``): the endpoint from `endpoint`, else `AWS_ENDPOINT_URL_AUTO_SCALING`,
    /// else the `auto_scaling` entry of the profile's `services` section, else
    /// `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`, else the regional public one.
    /// - Parameters:
    ///   - environment: The variables, shared files and profile.
    ///   - region: An explicit region (`--region`).
    ///   - endpoint: An explicit endpoint.
    ///   - fallbackRegion: Used when nothing else names a region (for example IMDS's).
    ///   - credentialsProvider: The credentials source.
    ///   - transport: How requests travel.
    ///   - clock: Time and sleeping.
    ///   - retryPolicy: Attempts and backoff.
    /// - Throws: ``EC2ConfigurationError`` when no region is configured or an endpoint is not an
    ///   http(s) URL; ``CredentialsError`` when a shared file cannot be read.
    public init(environment: AWSEnvironment, region: String? = nil, endpoint: URL? = nil,
                fallbackRegion: String? = nil, credentialsProvider: any CredentialsProvider,
                transport: any HTTPTransport = AsyncHTTPClientTransport.aws(), clock: EC2Clock = .system,
                retryPolicy: RetryPolicy = .standard) throws {
        let resolvedRegion = try environment.requireRegion(explicit: region, fallback: fallbackRegion)
        self.init(region: resolvedRegion,
                  endpoint: try environment.resolvedEndpoint(for: .autoScaling, region: resolvedRegion,
                                                             explicit: endpoint),
                  credentialsProvider: credentialsProvider, transport: transport, clock: clock,
                  retryPolicy: retryPolicy)
    }

    /// Creates a client with the region and credentials of an EC2 configuration, and the Auto
    /// Scaling endpoint resolved from the same settings.
    /// - Parameters:
    ///   - configuration: Region and credentials (its EC2 endpoint is not used).
    ///   - endpoint: The Auto Scaling endpoint (nil: the regional public one).
    ///   - transport: How requests travel.
    ///   - clock: Time and sleeping.
    ///   - retryPolicy: When to retry.
    public init(configuration: EC2Configuration, endpoint: URL?, transport: any HTTPTransport = AsyncHTTPClientTransport.aws(),
                clock: EC2Clock = .system, retryPolicy: RetryPolicy = .standard) {
        self.init(region: configuration.region, endpoint: endpoint,
                  credentialsProvider: configuration.credentialsProvider, transport: transport,
                  clock: clock, retryPolicy: retryPolicy)
    }

    /// The shared Query-protocol machinery, signing for `autoscaling`.
    var engine: QueryProtocolEngine {
        QueryProtocolEngine(signingService: "autoscaling", region: region, endpoint: endpoint,
                            credentialsProvider: credentialsProvider, transport: transport, clock: clock,
                            retryPolicy: retryPolicy, requestTimeout: requestTimeout, clockCorrection: clockCorrection)
    }

    /// A request for `action` naming the Auto Scaling API version.
    static func query(_ action: String) -> EC2Query {
        EC2Query(action: action, version: apiVersion)
    }

    /// Sends one action and returns its `<ActionResult>` element (an empty one for actions
    /// that answer with `ResponseMetadata` only).
    func send(_ query: EC2Query) async throws -> EC2XML.Element {
        let root = try await engine.send(query)
        return root.child(query.action + "Result") ?? EC2XML.Element(name: query.action + "Result", text: "", children: [])
    }

    /// Follows `<NextToken>` of the `<ActionResult>` through every page.
    func paginate<T>(_ query: EC2Query, items: (EC2XML.Element) throws -> [T]) async throws -> [T] {
        let resultName = query.action + "Result"
        return try await engine.paginate(query, nextToken: { $0.child(resultName)?.string("NextToken") }, items: { root in
            guard let result = root.child(resultName) else {
                throw EC2Decoding.missing(resultName, in: root.name)
            }
            return try items(result)
        })
    }
}
