import EC2Spot
import Foundation
import Testing

/// A transport that must never be used: records the request and fails.
private final class ForbiddenTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var urls: [URL] = []
    var requestedURLs: [URL] { lock.withLock { urls } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        lock.withLock { urls.append(request.url) }
        throw TransportError(.connectionFailed, "test transport: no request may be sent")
    }
}

@Suite struct IMDSClientTests {
    private func client(_ imds: FakeIMDS, clock: TestClock? = nil, timeout: Duration = .seconds(5)) throws -> InstanceMetadataClient {
        if let clock {
            return try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:], requestTimeout: timeout,
                                              now: { clock.now })
        }
        return try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:], requestTimeout: timeout)
    }

    private func expectIMDSError(_ kind: IMDSError.Kind, _ operation: () async throws -> Void) async -> IMDSError? {
        do {
            try await operation()
            Issue.record("expected IMDSError.\(kind)")
        } catch let error as IMDSError {
            #expect(error.kind == kind, "\(error)")
            return error
        } catch {
            Issue.record("expected IMDSError.\(kind), got \(error)")
        }
        return nil
    }

    @Test func readsInstanceIdentity() async throws {
        try await withFakeIMDS(arguments: ["--instance-id", "i-0abc", "--availability-zone", "eu-west-1b",
                                           "--region", "eu-west-1"]) { imds in
            let client = try client(imds)
            #expect(try await client.instanceID() == "i-0abc")
            #expect(try await client.availabilityZone() == "eu-west-1b")
            #expect(try await client.region() == "eu-west-1")
            #expect(try await imds.tokenRequests() == 1)
            #expect(await client.tokenFetchCount == 1)
        }
    }

    @Test func metadataRequiresAToken() async throws {
        try await withFakeIMDS { imds in
            let withoutToken = try await imds.raw("GET", "/latest/meta-data/instance-id")
            #expect(withoutToken.status == 401)
            let unknownToken = try await imds.raw("GET", "/latest/meta-data/instance-id",
                                                  headers: ["x-aws-ec2-metadata-token": "made-up"])
            #expect(unknownToken.status == 401)
        }
    }

    @Test func tokenRequestNeedsAValidTTLHeader() async throws {
        try await withFakeIMDS { imds in
            #expect(try await imds.raw("PUT", "/latest/api/token").status == 400)
            let ttl = "x-aws-ec2-metadata-token-ttl-seconds"
            #expect(try await imds.raw("PUT", "/latest/api/token", headers: [ttl: "0"]).status == 400)
            #expect(try await imds.raw("PUT", "/latest/api/token", headers: [ttl: "21601"]).status == 400)
            let granted = try await imds.raw("PUT", "/latest/api/token", headers: [ttl: "21600"])
            #expect(granted.status == 200)
            #expect(granted.headers[ttl] == "21600")
            #expect(!granted.body.isEmpty)
        }
    }

    @Test func tokenIsReusedUntilShortlyBeforeExpiry() async throws {
        try await withFakeIMDS { imds in
            let clock = TestClock()
            let client = try client(imds, clock: clock)
            _ = try await client.instanceID()
            clock.advance(by: 3600)
            _ = try await client.region()
            #expect(try await imds.tokenRequests() == 1)
            // 21600 s TTL: within the last minute the client fetches a new token first.
            clock.advance(by: 21600 - 3600 - 30)
            _ = try await client.instanceID()
            #expect(try await imds.tokenRequests() == 2)
            _ = try await client.availabilityZone()
            #expect(try await imds.tokenRequests() == 2)
        }
    }

    @Test func tokenIsRefreshedAfterA401() async throws {
        try await withFakeIMDS { imds in
            let client = try client(imds)
            _ = try await client.instanceID()
            try await imds.control("expire-tokens")
            #expect(try await client.instanceID() == "i-0fake00000000imds")
            #expect(try await imds.tokenRequests() == 2)
            #expect(await client.tokenFetchCount == 2)
        }
    }

    @Test func repeated401IsUnauthorized() async throws {
        try await withFakeIMDS { imds in
            let client = try client(imds)
            try await imds.control("fail", ["count": 2, "status": 401, "path_prefix": "/latest/meta-data/"])
            let error = await expectIMDSError(.unauthorized) { _ = try await client.instanceID() }
            #expect(error?.path == InstanceMetadataClient.Path.instanceID)
            #expect(try await client.instanceID() == "i-0fake00000000imds")
        }
    }

    @Test func spotInstanceActionIsNilUntilScheduled() async throws {
        try await withFakeIMDS { imds in
            let client = try client(imds)
            #expect(try await client.spotInstanceAction() == nil)
            try await imds.control("interrupt", ["action": "hibernate", "time": "2026-11-29T12:00:00Z"])
            let action = try #require(try await client.spotInstanceAction())
            #expect(action.action == .hibernate)
            #expect(action.time == Date(timeIntervalSince1970: 1_795_953_600))
        }
    }

    @Test func rebalanceRecommendationIsNilUntilIssued() async throws {
        try await withFakeIMDS { imds in
            let client = try client(imds)
            #expect(try await client.rebalanceRecommendation() == nil)
            try await imds.control("rebalance", ["notice_time": "2026-11-29T11:55:30Z"])
            let recommendation = try #require(try await client.rebalanceRecommendation())
            #expect(recommendation.noticeTime == Date(timeIntervalSince1970: 1_795_953_330))
        }
    }

    @Test func readsInstanceRoleCredentialsWithoutLeakingSecrets() async throws {
        try await withFakeIMDS(arguments: ["--role-name", "trainer-role"]) { imds in
            let client = try client(imds)
            #expect(try await client.instanceRoleName() == "trainer-role")
            let credentials = try await client.instanceRoleCredentials()
            #expect(credentials.roleName == "trainer-role")
            #expect(credentials.accessKeyId == "ASIAFAKEIMDSEXAMPLE")
            #expect(credentials.secretAccessKey == "fakeImdsSecretKey/EXAMPLEKEY0000000000000")
            #expect(credentials.sessionToken == "fake-imds-session-token")
            #expect(credentials.expiration != nil)
            var dumped = ""
            dump(credentials, to: &dumped)
            for text in [credentials.description, credentials.debugDescription, dumped, "\(credentials)"] {
                #expect(!text.contains(credentials.secretAccessKey))
                #expect(!text.contains(credentials.sessionToken))
                #expect(text.contains("ASIAFAKEIMDSEXAMPLE"))
            }
        }
    }

    @Test func missingPathIsNotFound() async throws {
        try await withFakeIMDS(arguments: ["--role-name", "trainer-role"]) { imds in
            let client = try client(imds)
            let error = await expectIMDSError(.notFound) { _ = try await client.instanceRoleCredentials(role: "other-role") }
            #expect(error?.status == 404)
            #expect(try await client.fetch("/latest/meta-data/no-such-thing") == nil)
        }
    }

    @Test func serverErrorsAreTypedAndTransient() async throws {
        try await withFakeIMDS { imds in
            let client = try client(imds)
            try await imds.control("fail", ["count": 1, "status": 500, "path_prefix": "/latest/meta-data/"])
            let error = await expectIMDSError(.unexpectedStatus) { _ = try await client.region() }
            #expect(error?.status == 500)
            #expect(error?.path == "/latest/meta-data/placement/region")
            #expect(try await client.region() == "us-east-1")
        }
    }

    @Test func failedTokenRequestIsTokenUnavailable() async throws {
        try await withFakeIMDS { imds in
            let client = try client(imds)
            try await imds.control("fail", ["count": 1, "status": 403, "path_prefix": "/latest/api/token"])
            let error = await expectIMDSError(.tokenUnavailable) { _ = try await client.instanceID() }
            #expect(error?.status == 403)
            #expect(error?.path == "/latest/api/token")
            #expect(try await client.instanceID() == "i-0fake00000000imds")
        }
    }

    @Test func silentServerTimesOutQuickly() async throws {
        let server = try ScriptedHTTPServer(.neverRespond)
        defer { server.stop() }
        let client = try InstanceMetadataClient(endpoint: URL(string: server.baseURL)!, environment: [:],
                                                requestTimeout: .milliseconds(150))
        let error = await expectIMDSError(.transport) { _ = try await client.spotInstanceAction() }
        #expect(error?.transportError?.kind == .timedOut)
        #expect(error?.isTimeout == true)
        #expect(error?.path == "/latest/api/token")
    }

    @Test func instanceActionWithUnreadableTimeIsANoticeDueNow() async throws {
        try await withFakeIMDS { imds in
            let received = Date(timeIntervalSince1970: 1_795_953_000)
            let client = try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:],
                                                    requestTimeout: .seconds(5), now: { received })
            try await imds.control("interrupt", ["action": "terminate", "time": "soon"])
            let action = try #require(try await client.spotInstanceAction())
            #expect(action.action == .terminate)
            #expect(action.time == received)
            #expect(action.isTimeEstimated)
            #expect(action.warnings == ["\(InstanceMetadataClient.Path.spotInstanceAction): time 'soon' is not a timestamp; "
                                        + "using the earliest plausible time, the moment it was received (2026-11-29T11:50:00Z)"])
        }
    }

    @Test func credentialDecoderRejectsMalformedDocuments() throws {
        let path = "/p"
        #expect(throws: IMDSError.self) {
            try InstanceRoleCredentials.decode(Data(#"{"Code":"Failure","AccessKeyId":"a","SecretAccessKey":"s","Token":"t"}"#.utf8),
                                               roleName: "r", path: path)
        }
        let fractional = SpotInstanceAction.decode(Data(#"{"action":"stop","time":"2026-11-29T12:00:00.500Z"}"#.utf8),
                                                   path: path, receivedAt: Date())
        #expect(fractional.time.timeIntervalSince1970 == 1_795_953_600.5)
        #expect(fractional.warnings.isEmpty && !fractional.isTimeEstimated)
    }

    // MARK: - Endpoint selection (no requests are made here)

    @Test func endpointComesFromEnvironmentVariable() async throws {
        let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/"]
        #expect(try InstanceMetadataClient.resolveEndpoint(explicit: nil, environment: environment).absoluteString
                == "http://127.0.0.1:9")
        let transport = ForbiddenTransport()
        let client = try InstanceMetadataClient(environment: environment, transport: transport)
        #expect(client.endpoint.absoluteString == "http://127.0.0.1:9")
        _ = try? await client.instanceID()
        #expect(transport.requestedURLs.map(\.absoluteString) == ["http://127.0.0.1:9/latest/api/token"])
    }

    @Test func environmentVariableReachesTheFakeServer() async throws {
        try await withFakeIMDS { imds in
            let client = try InstanceMetadataClient(
                environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint.absoluteString])
            #expect(try await client.instanceID() == "i-0fake00000000imds")
        }
    }

    @Test func explicitEndpointWinsOverEnvironment() throws {
        let url = try InstanceMetadataClient.resolveEndpoint(
            explicit: URL(string: "http://[::1]:8080")!,
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"])
        #expect(url.absoluteString == "http://[::1]:8080")
    }

    @Test func realDefaultOnlyWhenNothingIsSet() throws {
        #expect(try InstanceMetadataClient.resolveEndpoint(explicit: nil, environment: [:])
                == InstanceMetadataClient.defaultEndpoint)
        #expect(InstanceMetadataClient.defaultEndpoint.absoluteString == "http://169.254.169.254")
        #expect(try InstanceMetadataClient.resolveEndpoint(
            explicit: nil, environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"]).absoluteString
                == "http://[fd00:ec2::254]")
    }

    @Test func invalidEndpointsAreRejected() {
        for environment in [["AWS_EC2_METADATA_SERVICE_ENDPOINT": "https://127.0.0.1"],
                            ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "127.0.0.1:80"],
                            ["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv5"]] {
            #expect(throws: IMDSError.self) { try InstanceMetadataClient(environment: environment) }
        }
    }

    @Test func disabledServiceMakesNoRequest() async throws {
        let transport = ForbiddenTransport()
        let client = try InstanceMetadataClient(environment: ["AWS_EC2_METADATA_DISABLED": "true"], transport: transport)
        _ = await expectIMDSError(.disabled) { _ = try await client.spotInstanceAction() }
        #expect(transport.requestedURLs.isEmpty)
    }
}
