import EC2Spot
import Foundation
import Testing

/// AssumeRole (signed with the source credentials) and AssumeRoleWithWebIdentity (unsigned)
/// against a scripted STS; the refresh before `Expiration`; errors without secrets.
@Suite struct STSCredentialsProviderTests {
    static let sourceSecret = "source/Secret+Key"
    static let roleSecret = "role/Secret+Key"
    static let roleToken = "ROLE-SESSION-TOKEN"

    func sts(_ transport: ScriptedEC2Transport, time: ManualTime) -> STSClient {
        STSClient(region: "eu-west-1", endpoint: URL(string: "https://sts.test.example")!, transport: transport,
                  clock: time.clock, retryPolicy: RetryPolicy(maxAttempts: 2, baseDelay: .seconds(1), random: { 0 }))
    }

    @Test func stsClientDefaultsToTheRegionalEndpointElseTheGlobalOne() {
        let transport = ScriptedEC2Transport()
        #expect(STSClient(region: "eu-west-1", transport: transport).endpoint.absoluteString == "https://sts.eu-west-1.amazonaws.com")
        let global = STSClient(region: nil, transport: transport)
        #expect(global.endpoint.absoluteString == "https://sts.amazonaws.com")
        #expect(global.region == "us-east-1")
    }

    @Test func assumeRoleSignsWithTheSourceAndCachesUntilShortlyBeforeExpiration() async throws {
        let transport = ScriptedEC2Transport()
        let time = ManualTime()
        for index in 1...2 {
            transport.enqueue(xml: STSFixtures.success("AssumeRole", keyId: "ASIAROLE\(index)", secret: Self.roleSecret,
                                                       token: Self.roleToken, expiration: time.now.addingTimeInterval(3600 * Double(index))),
                              for: "AssumeRole")
        }
        let source = StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIDSOURCE", secretAccessKey: Self.sourceSecret))
        let provider = AssumeRoleCredentialsProvider(roleArn: "arn:aws:iam::123456789012:role/train", sessionName: "nightly",
                                                     externalId: "ext-1", durationSeconds: 3600, source: source,
                                                     sts: sts(transport, time: time))
        let first = try #require(try await provider.credentials())
        #expect(first.accessKeyId == "ASIAROLE1")
        #expect(first.sessionToken == Self.roleToken)
        let request = try #require(transport.requests.first)
        let parameters = ScriptedEC2Transport.parameters(request)
        #expect(parameters["Action"] == "AssumeRole")
        #expect(parameters["Version"] == "2011-06-15")
        #expect(parameters["RoleArn"] == "arn:aws:iam::123456789012:role/train")
        #expect(parameters["RoleSessionName"] == "nightly")
        #expect(parameters["ExternalId"] == "ext-1")
        #expect(parameters["DurationSeconds"] == "3600")
        let authorization = request.headers["authorization"] ?? ""
        #expect(authorization.contains("Credential=AKIDSOURCE/"))
        #expect(authorization.contains("/eu-west-1/sts/aws4_request"))
        time.advance(3000)
        #expect(try await provider.credentials()?.accessKeyId == "ASIAROLE1")
        #expect(transport.requests.count == 1)
        time.advance(400)
        #expect(try await provider.credentials()?.accessKeyId == "ASIAROLE2")
        #expect(transport.requests.count == 2)
    }

    @Test func assumeRoleRefusalIsACredentialsErrorWithoutSecrets() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 403, xml: STSFixtures.error(code: "AccessDenied", message: "not allowed to assume"),
                          for: "AssumeRole")
        let source = StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIDSOURCE", secretAccessKey: Self.sourceSecret,
                                                              sessionToken: "SOURCE-TOKEN"))
        let provider = AssumeRoleCredentialsProvider(roleArn: "arn:aws:iam::123456789012:role/train", source: source,
                                                     sts: sts(transport, time: ManualTime()))
        let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("AccessDenied"), "\(text)")
        #expect(text.contains("role/train"))
        #expect(!text.contains(Self.sourceSecret) && !text.contains("SOURCE-TOKEN"))
        #expect(transport.requests.count == 1, "a 403 is not retried")
        #expect(ScriptedEC2Transport.parameters(transport.requests[0])["RoleSessionName"]?.hasPrefix("spottrain-session-") == true)
    }

    @Test func malformedSTSAnswersAreRejectedWithoutEchoingTheBody() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA</AccessKeyId>"
                          + "<SecretAccessKey>\(Self.roleSecret)</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>",
                          for: "AssumeRole")
        let source = StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIDSOURCE", secretAccessKey: Self.sourceSecret))
        let provider = AssumeRoleCredentialsProvider(roleArn: "arn:aws:iam::1:role/r", source: source,
                                                     sts: sts(transport, time: ManualTime()))
        let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(!(error.map { "\($0)" } ?? "").contains(Self.roleSecret))
    }

    @Test func webIdentityFromEnvironmentIsUnsignedAndRereadsTheTokenOnRefresh() async throws {
        let scratch = try CredentialsScratch()
        let tokenPath = try scratch.write("token", "eyJ-first-token\n")
        let transport = ScriptedEC2Transport()
        let time = ManualTime()
        for index in 1...2 {
            transport.enqueue(xml: STSFixtures.success("AssumeRoleWithWebIdentity", keyId: "ASIAWEB\(index)", secret: Self.roleSecret,
                                                       token: Self.roleToken, expiration: time.now.addingTimeInterval(3600 * Double(index))),
                              for: "AssumeRoleWithWebIdentity")
        }
        let environment = AWSEnvironment(variables: ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenPath,
                                                     "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/web",
                                                     "AWS_ROLE_SESSION_NAME": "pod-1"],
                                         files: try scratch.files())
        let client = sts(transport, time: time)
        let provider = WebIdentityCredentialsProvider(environment: environment, makeSTS: { client },
                                                      cache: TemporaryCredentialsCache(now: { time.now }))
        #expect(try await provider.credentials()?.accessKeyId == "ASIAWEB1")
        let request = transport.requests[0]
        #expect(request.headers["authorization"] == nil)
        let parameters = ScriptedEC2Transport.parameters(request)
        #expect(parameters["Action"] == "AssumeRoleWithWebIdentity")
        #expect(parameters["WebIdentityToken"] == "eyJ-first-token")
        #expect(parameters["RoleArn"] == "arn:aws:iam::123456789012:role/web")
        #expect(parameters["RoleSessionName"] == "pod-1")
        try scratch.write("token", "eyJ-rotated-token")
        time.advance(3400)
        #expect(try await provider.credentials()?.accessKeyId == "ASIAWEB2")
        #expect(ScriptedEC2Transport.parameters(transport.requests[1])["WebIdentityToken"] == "eyJ-rotated-token")
    }

    @Test func webIdentityFromProfileAndItsConfigurationErrors() async throws {
        let scratch = try CredentialsScratch()
        let tokenPath = try scratch.write("token", "eyJ-profile-token")
        let files = try scratch.files(config: """
            [profile web]
            web_identity_token_file = \(tokenPath)
            role_arn = arn:aws:iam::123456789012:role/profile-web
            [profile norole]
            web_identity_token_file = \(tokenPath)
            [profile missing]
            web_identity_token_file = \(scratch.path("absent-token"))
            role_arn = arn:aws:iam::1:role/r
            """)
        let transport = ScriptedEC2Transport()
        let time = ManualTime()
        transport.enqueue(xml: STSFixtures.success("AssumeRoleWithWebIdentity", keyId: "ASIAPROFILE", secret: Self.roleSecret,
                                                   token: Self.roleToken, expiration: time.now.addingTimeInterval(3600)),
                          for: "AssumeRoleWithWebIdentity")
        let client = sts(transport, time: time)
        func provider(_ profile: String) -> WebIdentityCredentialsProvider {
            WebIdentityCredentialsProvider(environment: AWSEnvironment(variables: [:], files: files, profile: profile),
                                           makeSTS: { client })
        }
        #expect(try await provider("web").credentials()?.accessKeyId == "ASIAPROFILE")
        let noRole = await #expect(throws: CredentialsError.self) { try await provider("norole").credentials() }
        #expect(noRole?.message.contains("AWS_ROLE_ARN") == true)
        await #expect(throws: CredentialsError.self) { try await provider("missing").credentials() }
        #expect(try await provider("other").credentials() == nil)
    }

    @Test func anExplicitProfileIgnoresTheWebIdentityVariables() async throws {
        let scratch = try CredentialsScratch()
        let tokenPath = try scratch.write("token", "eyJ-env")
        let environment = AWSEnvironment(variables: ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenPath, "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"],
                                         files: try scratch.files(config: "[profile plain]\nregion = us-east-1\n"),
                                         profile: "plain")
        let provider = WebIdentityCredentialsProvider(environment: environment, makeSTS: {
            STSClient(region: "us-east-1", transport: ForbiddenSTSTransport())
        })
        #expect(try await provider.credentials() == nil)
    }
}

/// A transport that fails the test if anything is sent.
struct ForbiddenSTSTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        Issue.record("unexpected request to \(request.url)")
        throw TransportError(.connectionFailed, "forbidden")
    }
}
