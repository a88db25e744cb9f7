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

    /// Sends one Query-API action, retrying per ``retryPolicy``, and returns the parsed
    /// `<ActionResponse>` element.
    /// A clock-skew rejection is corrected and sent again once, immediately, without counting
    /// as an attempt; a second one gets the clock hint in its message.
    func send(_ query: EC2Query) async throws -> EC2XML.Element {
        var attempt = 1
        var correctedSkew: TimeInterval?
        while true {
            do {
                return try await sendOnce(query)
            } catch let error as EC2Error where error.clockSkew != nil && correctedSkew == nil {
                let skew = error.clockSkew ?? 0
                clockCorrection.adjust(by: skew)
                correctedSkew = skew
            } catch var error as EC2Error where correctedSkew != nil && ClockSkewCorrection.errorCodes.contains(error.code) {
                // Rejected again after the correction: say how far off the local clock is.
                error.message += (error.message.isEmpty ? "" : "; ")
                    + ClockSkewCorrection.hint(skew: clockCorrection.offset + (error.clockSkew ?? 0), retried: true)
                throw error
            } catch var error as EC2Error where ClockSkewCorrection.timeOnlyErrorCodes.contains(error.code) {
                error.message += (error.message.isEmpty ? "" : "; ")
                    + "AWS rejected the request's time: check that the local clock is right (NTP)"
                throw error
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
        SecretRedactor.register(credentials)
        let redactor = SecretRedactor(credentials: credentials)
        let request = HTTPRequest(
            method: "POST", url: endpoint,
            headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8",
                      "user-agent": "spottrain-ec2spot/\(EC2SpotLibrary.version)"],
            body: query.formBody, timeout: requestTimeout)
        let signer = SigV4Signer(credentials: credentials, region: region, service: "ec2")
        let response: HTTPResponse
        do {
            response = try await transport.send(signer.sign(request, date: clockCorrection.correctedDate(clock.now())))
        } catch var error as TransportError {
            error.message = redactor.redact(error.message)
            throw error
        }
        guard (200...299).contains(response.status) else {
            var error = EC2Error.decode(from: response, redactor: redactor)
            error.clockSkew = ClockSkewCorrection.skew(code: error.code, dateHeader: response.headers["date"],
                                                       localNow: clockCorrection.correctedDate(clock.now()))
            throw error
        }
        let root: EC2XML.Element
        do {
            root = try EC2XML.parse(response.body)
        } catch {
            throw EC2Error(status: response.status, code: EC2Error.malformedResponseCode,
                           message: "\(query.action): response is not XML: "
                               + EC2Error.bodyExcerpt(response.body, redactor: redactor),
                           requestId: response.headers["x-amzn-requestid"].map { redactor.redact($0) })
        }
        if root.name == "Response" || root.name == "ErrorResponse" {
            throw EC2Error.decode(from: response, redactor: redactor)
        }
        guard root.name == query.action + "Response" else {
            throw EC2Error(status: response.status, code: EC2Error.malformedResponseCode,
                           message: "\(query.action): expected <\(query.action)Response>, got <"
                               + String(redactor.redact(root.name).prefix(100)) + ">",
                           requestId: root.text("requestId").map { String(redactor.redact($0).prefix(200)) })
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
                               message: "\(query.action): pagination repeated nextToken "
                                   + String(SecretRedactor.processWide.redact(token).prefix(200)))
            }
        } while token != nil
        return results
    }
}
