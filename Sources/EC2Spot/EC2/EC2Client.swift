import Foundation

/// A client for the EC2 Query API (version 2016-11-15): form-encoded POSTs signed with
/// SigV4, XML responses decoded into typed values, retries with jittered backoff.
///
/// Everything it touches is injected: the ``HTTPTransport`` (a scripted fake in tests,
/// ``AsyncHTTPClientTransport/aws(environment:maximumResponseBytes:)`` in production), the credentials provider, the region and
/// endpoint, the ``EC2Clock`` used for signing dates, backoff and waiters, and the
/// ``RetryPolicy``.
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

    /// Sends one Query-API action, retrying per ``retryPolicy``, and returns the parsed
    /// `<ActionResponse>` element.
    func send(_ query: EC2Query) async throws -> EC2XML.Element {
        var attempt = 1
        while true {
            do {
                return try await sendOnce(query)
            } catch {
                guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(error) else { throw error }
                try await clock.sleep(retryPolicy.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    private func sendOnce(_ query: EC2Query) async throws -> EC2XML.Element {
        guard let credentials = try await credentialsProvider.credentials() else {
            throw CredentialsError(provider: credentialsProvider.name, message: "no AWS credentials found")
        }
        let request = HTTPRequest(
            method: "POST", url: endpoint,
            headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8",
                      "user-agent": "spottrain-ec2spot/\(EC2SpotLibrary.version)"],
            body: query.formBody, timeout: requestTimeout)
        let signer = SigV4Signer(credentials: credentials, region: region, service: "ec2")
        let response = try await transport.send(signer.sign(request, date: clock.now()))
        guard (200...299).contains(response.status) else { throw EC2Error.decode(from: response) }
        let root: EC2XML.Element
        do {
            root = try EC2XML.parse(response.body)
        } catch {
            throw EC2Error(status: response.status, code: EC2Error.malformedResponseCode,
                           message: "\(query.action): response is not XML: " + EC2Error.bodyExcerpt(response.body),
                           requestId: response.headers["x-amzn-requestid"])
        }
        if root.name == "Response" || root.name == "ErrorResponse" {
            throw EC2Error.decode(from: response)
        }
        guard root.name == query.action + "Response" else {
            throw EC2Error(status: response.status, code: EC2Error.malformedResponseCode,
                           message: "\(query.action): expected <\(query.action)Response>, got <\(root.name)>",
                           requestId: root.text("requestId"))
        }
        return root
    }

    /// Follows `nextToken` until the last page; stops with an error on a repeated token.
    func paginate<T>(_ query: EC2Query, items: (EC2XML.Element) throws -> [T]) async throws -> [T] {
        var results: [T] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            var page = query
            page.set("NextToken", token)
            let root = try await send(page)
            results += try items(root)
            token = root.string("nextToken")
            if let token, !seen.insert(token).inserted {
                throw EC2Error(status: 200, code: EC2Error.malformedResponseCode,
                               message: "\(query.action): pagination repeated nextToken \(token)")
            }
        } while token != nil
        return results
    }
}
