import EC2Spot
import Foundation
import Testing

/// The container credentials endpoint against a loopback server (the real 169.254.170.2 is
/// never contacted: the relative base is injected).
@Suite struct ContainerCredentialsProviderTests {
    static let secret = "container/Secret+Key"
    static let token = "CONTAINER-TOKEN"

    static func http(_ status: Int, _ body: String) -> [UInt8] {
        let reason = status == 200 ? "OK" : "Error"
        return Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
    }

    static func document(expiration: Date) -> String {
        """
        {"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "\(secret)", "Token": "\(token)",
         "Expiration": "\(STSFixtures.iso(expiration))", "RoleArn": "arn:aws:iam::1:role/task"}
        """
    }

    func provider(_ environment: [String: String], base: String = "http://127.0.0.1:9",
                  time: ManualTime = ManualTime()) -> ContainerCredentialsProvider {
        ContainerCredentialsProvider(environment: environment, transport: AsyncHTTPClientTransport.aws(),
                                     relativeBase: URL(string: base)!, timeout: .seconds(5), clock: time.clock)
    }

    @Test func relativeURIIsFetchedFromTheInjectedBaseWithTheAuthorizationToken() async throws {
        let time = ManualTime()
        let server = try ScriptedHTTPServer(.respond(Self.http(200, Self.document(expiration: time.now.addingTimeInterval(3600)))))
        defer { server.stop() }
        let provider = provider(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc-123",
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Basic c2VjcmV0"],
                                base: server.baseURL, time: time)
        #expect(try provider.endpoint()?.absoluteString == server.baseURL + "/v2/credentials/abc-123")
        let credentials = try #require(try await provider.credentials())
        #expect(credentials.accessKeyId == "ASIACONTAINER")
        #expect(credentials.secretAccessKey == Self.secret)
        #expect(credentials.sessionToken == Self.token)
        let request = try #require(server.receivedRequests.first).lowercased()
        #expect(request.hasPrefix("get /v2/credentials/abc-123 "))
        #expect(request.contains("authorization: basic c2vjcmv0"))
        // Cached: a second call sends nothing.
        _ = try await provider.credentials()
        #expect(server.receivedRequests.count == 1)
    }

    @Test func fullURIOnLoopbackWithATokenFile() async throws {
        let scratch = try CredentialsScratch()
        let tokenFile = try scratch.write("auth-token", "eks-pod-identity-token")
        let time = ManualTime()
        let server = try ScriptedHTTPServer(.respond(Self.http(200, Self.document(expiration: time.now.addingTimeInterval(3600)))))
        defer { server.stop() }
        let provider = provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/creds",
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-when-a-file-is-set"], time: time)
        #expect(try await provider.credentials()?.accessKeyId == "ASIACONTAINER")
        let request = try #require(server.receivedRequests.first)
        #expect(request.lowercased().contains("authorization: eks-pod-identity-token"))
        #expect(!request.contains("ignored-when-a-file-is-set"))
    }

    @Test func fullURIHostsFollowTheCLIAllowList() throws {
        func endpoint(_ uri: String) throws -> URL? {
            try provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri]).endpoint()
        }
        for allowed in ["http://127.0.0.1:8080/c", "http://127.5.6.7/c", "http://[::1]:80/c", "http://localhost/c",
                        "http://169.254.170.2/c", "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/c",
                        "https://credentials.example.com/c"] {
            #expect(try endpoint(allowed) != nil, "\(allowed)")
        }
        for refused in ["http://example.com/c", "http://10.0.0.1/c", "http://127.0.0.1.example.com/c",
                        "ftp://127.0.0.1/c", "not a url"] {
            #expect(throws: CredentialsError.self, "\(refused)") { try endpoint(refused) }
        }
        #expect(try provider([:]).endpoint() == nil)
        // The relative URI wins over the full one, as in the CLI.
        let both = try provider(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/rel",
                                 "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/full"]).endpoint()
        #expect(both?.absoluteString == "http://127.0.0.1:9/rel")
    }

    @Test func aTokenWithALineBreakIsRefusedBeforeAnythingIsSent() async throws {
        let server = try ScriptedHTTPServer(.respond(Self.http(200, "{}")))
        defer { server.stop() }
        let provider = provider(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/c",
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN": "abc\r\nX-Injected: 1"], base: server.baseURL)
        await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(server.receivedRequests.isEmpty)
    }

    @Test func errorsAndMalformedAnswersAreRetriedThenTypedWithoutSecrets() async throws {
        let time = ManualTime()
        let failing = try ScriptedHTTPServer(.respond(Self.http(500, "{\"SecretAccessKey\": \"\(Self.secret)\"}")))
        defer { failing.stop() }
        let error = await #expect(throws: CredentialsError.self) {
            try await provider(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/c"], base: failing.baseURL, time: time).credentials()
        }
        #expect(failing.receivedRequests.count == 3)
        #expect(error?.message.contains("HTTP 500") == true, "\(String(describing: error))")
        #expect(!(error.map { "\($0)" } ?? "").contains(Self.secret))

        let partial = try ScriptedHTTPServer(.respond(Self.http(200, "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"\(Self.secret)\"}")))
        defer { partial.stop() }
        let missing = await #expect(throws: CredentialsError.self) {
            try await provider(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/c"], base: partial.baseURL).credentials()
        }
        #expect(!(missing.map { "\($0)" } ?? "").contains(Self.secret))
    }
}
