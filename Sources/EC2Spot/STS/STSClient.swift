import Foundation

/// A client for the two AWS STS actions credential providers need: `AssumeRole` (signed with
/// the source credentials) and `AssumeRoleWithWebIdentity` (unsigned: the web identity token
/// is the proof).
///
/// STS speaks the same Query protocol as EC2 (form-encoded POST, XML answers, the
/// `<ErrorResponse>` envelope), so the client reuses EC2's query encoding, XML reader, error
/// decoding, ``SigV4Signer`` and ``RetryPolicy``.
public struct STSClient: Sendable {
    /// The STS API version every request names.
    static let apiVersion = "2011-06-15"

    /// The signing region.
    public var region: String
    /// The endpoint requests are POSTed to.
    public var endpoint: URL
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
    ///   - region: The signing region; nil for the global endpoint (`https://sts.amazonaws.com`,
    ///     signed for `us-east-1`).
    ///   - endpoint: A custom endpoint (`AWS_ENDPOINT_URL_STS`, a moto server); nil for the
    ///     regional public one.
    ///   - transport: How requests travel.
    ///   - clock: Time and sleeping.
    ///   - retryPolicy: When to retry.
    ///   - requestTimeout: The timeout of each exchange.
    public init(region: String?, endpoint: URL? = nil, transport: any HTTPTransport,
                clock: EC2Clock = .system, retryPolicy: RetryPolicy = .standard,
                requestTimeout: Duration = .seconds(30)) {
        let region = region.flatMap { $0.isEmpty ? nil : $0 }
        self.region = region ?? "us-east-1"
        self.endpoint = endpoint
            ?? URL(string: region.map { AWSService.sts.defaultEndpoint(region: $0) } ?? "https://sts.amazonaws.com")!
        self.transport = transport
        self.clock = clock
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
    }

    /// Calls `AssumeRole`.
    /// - Parameters:
    ///   - roleArn: The role to assume.
    ///   - sessionName: `RoleSessionName`.
    ///   - externalId: `ExternalId`, if the role's trust policy asks for one.
    ///   - durationSeconds: `DurationSeconds`, if set.
    ///   - credentials: The source credentials the request is signed with.
    /// - Returns: The role's temporary credentials.
    /// - Throws: ``EC2Error`` (an STS error response, or a malformed one), ``TransportError``.
    public func assumeRole(roleArn: String, sessionName: String, externalId: String? = nil,
                           durationSeconds: Int? = nil, credentials: AWSCredentials) async throws -> AWSCredentials {
        var query = EC2Query(action: "AssumeRole", version: Self.apiVersion)
        query.set("RoleArn", roleArn)
        query.set("RoleSessionName", sessionName)
        query.set("ExternalId", externalId)
        query.set("DurationSeconds", durationSeconds)
        return try await send(query, signedWith: credentials)
    }

    /// Calls `AssumeRoleWithWebIdentity` (unsigned).
    /// - Parameters:
    ///   - roleArn: The role to assume.
    ///   - sessionName: `RoleSessionName`.
    ///   - webIdentityToken: The OIDC token.
    ///   - durationSeconds: `DurationSeconds`, if set.
    /// - Returns: The role's temporary credentials.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func assumeRoleWithWebIdentity(roleArn: String, sessionName: String, webIdentityToken: String,
                                          durationSeconds: Int? = nil) async throws -> AWSCredentials {
        var query = EC2Query(action: "AssumeRoleWithWebIdentity", version: Self.apiVersion)
        query.set("RoleArn", roleArn)
        query.set("RoleSessionName", sessionName)
        query.set("WebIdentityToken", webIdentityToken)
        query.set("DurationSeconds", durationSeconds)
        return try await send(query, signedWith: nil)
    }

    private func send(_ query: EC2Query, signedWith credentials: AWSCredentials?) async throws -> AWSCredentials {
        var attempt = 1
        while true {
            do {
                return try await sendOnce(query, signedWith: credentials)
            } catch {
                guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(error) else { throw error }
                try await clock.sleep(retryPolicy.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    private func sendOnce(_ query: EC2Query, signedWith credentials: AWSCredentials?) async throws -> AWSCredentials {
        var request = HTTPRequest(
            method: "POST", url: endpoint,
            headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8",
                      "user-agent": "spottrain-ec2spot/\(EC2SpotLibrary.version)"],
            body: query.formBody, timeout: requestTimeout)
        if let credentials {
            request = SigV4Signer(credentials: credentials, region: region, service: "sts")
                .sign(request, date: clock.now())
        }
        let response = try await transport.send(request)
        guard (200...299).contains(response.status) else { throw EC2Error.decode(from: response) }
        let action = query.action
        func malformed(_ reason: String) -> EC2Error {
            EC2Error(status: response.status, code: EC2Error.malformedResponseCode, message: "\(action): \(reason)",
                     requestId: response.headers["x-amzn-requestid"])
        }
        guard let root = try? EC2XML.parse(response.body) else { throw malformed("response is not XML") }
        if root.name == "ErrorResponse" { throw EC2Error.decode(from: response) }
        guard root.name == action + "Response" else {
            throw malformed("expected <\(action)Response>, got <\(root.name)>")
        }
        guard let element = root.child(action + "Result")?.child("Credentials") else {
            throw malformed("no Credentials in the response")
        }
        // Never echo the body: it holds the secret key and the session token.
        guard let keyId = element.text("AccessKeyId"), !keyId.isEmpty,
              let secret = element.text("SecretAccessKey"), !secret.isEmpty,
              let token = element.text("SessionToken"), !token.isEmpty else {
            throw malformed("Credentials lack AccessKeyId, SecretAccessKey or SessionToken")
        }
        guard let expirationText = element.text("Expiration"), let expiration = IMDSDate.parse(expirationText) else {
            throw malformed("Credentials have no valid Expiration")
        }
        return AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token, expiration: expiration)
    }
}
