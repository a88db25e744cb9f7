import EC2Spot
import Foundation
import Testing

/// Secrets (secret access key, session token) never reach an error's text, whole or as a
/// fragment, whatever the server echoes and wherever a message is cut.
@Suite struct SecretRedactorTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    static let token = "IQoJb3JpZ2luX2VjEXAMPLE+TOKEN/" + String(repeating: "Zm9vYmFy", count: 40) + "END=="
    let credentials = AWSCredentials(accessKeyId: "AKIAQAATTACKTEST0001", secretAccessKey: secret, sessionToken: token)

    /// Every run of 8 characters of either secret that is still in `text`.
    private func leakedFragments(_ text: String) -> [String] {
        var leaks: [String] = []
        for secret in [Self.secret, Self.token] {
            let characters = Array(secret)
            for start in 0...(characters.count - 8) {
                let fragment = String(characters[start..<start + 8])
                if text.contains(fragment) { leaks.append(fragment) }
            }
        }
        return leaks
    }

    @Test func redactsWholeSecretsAndKeepsTheAccessKeyId() {
        let redactor = SecretRedactor(credentials: credentials)
        let text = "X-Amz-Security-Token: \(Self.token), secret=\(Self.secret), key AKIAQAATTACKTEST0001"
        let redacted = redactor.redact(text)
        #expect(redacted == "X-Amz-Security-Token: <redacted>, secret=<redacted>, key AKIAQAATTACKTEST0001")
    }

    @Test(arguments: [8, 9, 15, 40])
    func redactsFragmentsCutAnywhere(length: Int) {
        let redactor = SecretRedactor(credentials: credentials)
        let characters = Array(Self.token)
        for start in stride(from: 0, to: characters.count - length, by: 37) {
            let fragment = String(characters[start..<start + length])
            let text = "…echo: " + fragment + "… (truncated)"
            let redacted = redactor.redact(text)
            #expect(leakedFragments(redacted).isEmpty, "\(redacted)")
            #expect(redacted == "…echo: <redacted>… (truncated)")
        }
    }

    @Test func shortFragmentsAndOrdinaryTextAreKept() {
        let redactor = SecretRedactor(credentials: credentials)
        let text = "InvalidVolume.NotFound: The volume 'vol-0123456789abcdef0' does not exist. wJalrXU"
        #expect(redactor.redact(text) == text)
    }

    @Test func shortSecretIsRedactedOnlyWhole() {
        let redactor = SecretRedactor(secrets: ["abcd"])
        #expect(redactor.redact("xabcdx abc") == "x<redacted>x abc")
    }

    @Test func secretsTooShortToTellFromTextAreIgnored() {
        // A 1- to 3-character "secret" (a test value) would otherwise mangle all output.
        let redactor = SecretRedactor(secrets: ["s", "ab", "xyz"])
        #expect(redactor.isEmpty)
        #expect(redactor.redact("same abc xyz") == "same abc xyz")
    }

    @Test func repeatedSecretTextIsRedactedInLinearTime() {
        // A server could echo the token many times; the result must still be exact.
        let redactor = SecretRedactor(credentials: credentials)
        let text = String(repeating: Self.token + " ", count: 200)
        #expect(redactor.redact(text) == String(repeating: "<redacted> ", count: 200))
    }

    @Test func errorFromAnEchoingServerHasNoSecretFragment() async throws {
        // The server echoes the request headers (with the token) into its <Message>, and
        // again into a non-XML body that gets cut to an excerpt.
        for (status, body) in [
            (400, EC2XMLBodies.ec2Error(code: "InvalidParameterValue",
                                        message: "headers: X-Amz-Security-Token=\(Self.token) ... " + String(repeating: "x", count: 3000))),
            (502, "<html>proxy error; saw x-amz-security-token: " + String(repeating: "y", count: 150) + Self.token + "</html>"),
            (400, EC2XMLBodies.ec2Error(code: "AuthFailure", message: "token &#73;QoJb3JpZ2luX2Vj" + Self.token.dropFirst(16))),
        ] {
            let transport = ScriptedEC2Transport()
            transport.enqueue(status: status, xml: body)
            transport.enqueue(status: status, xml: body)
            transport.enqueue(status: status, xml: body)
            transport.enqueue(status: status, xml: body)
            let client = EC2Client(region: "us-east-1", endpoint: URL(string: "https://ec2.us-east-1.amazonaws.com")!,
                                   credentialsProvider: StaticCredentialsProvider(credentials), transport: transport,
                                   clock: EC2TestClock().clock,
                                   retryPolicy: RetryPolicy(maxAttempts: 4, random: { 0 }))
            let error = await #expect(throws: EC2Error.self) { try await client.deleteVolume(volumeId: "vol-1") }
            let shown = String(describing: error)
            #expect(leakedFragments(shown).isEmpty, "\(shown)")
            #expect(shown.contains("<reda"), "\(shown)")   // the excerpt may cut the placeholder itself
        }
    }

    @Test func transportErrorTextIsRedacted() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(.failure(TransportError(.invalidResponse, "bad status line 'HTTP/1.1 999 \(Self.secret.prefix(20))'")))
        let client = EC2Client(region: "us-east-1", endpoint: URL(string: "https://ec2.us-east-1.amazonaws.com")!,
                               credentialsProvider: StaticCredentialsProvider(credentials), transport: transport,
                               clock: EC2TestClock().clock, retryPolicy: .none)
        let error = await #expect(throws: TransportError.self) { try await client.deleteVolume(volumeId: "vol-1") }
        #expect(leakedFragments(String(describing: error)).isEmpty)
    }

    @Test func providersRegisterTheSecretsTheyRead() async throws {
        let secret = "env-secret-\(UUID().uuidString)"
        let token = "env-token-\(UUID().uuidString)"
        let provider = EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token,
        ])
        _ = try await provider.credentials()
        #expect(SecretRedactor.processWide.redact("\(secret) \(token) AKIDENV") == "<redacted> <redacted> AKIDENV")
    }

    @Test func imdsCredentialsFailureNeverQuotesTheBody() async throws {
        let secret = "role-secret-\(UUID().uuidString)"
        let transport = IMDSScriptedTransport { request in
            if request.method == "PUT" { return HTTPResponse(status: 200, headers: [:], body: Data("tok".utf8)) }
            return HTTPResponse(status: 500, headers: [:],
                                body: Data(#"{"Code":"Success","AccessKeyId":"AKID","SecretAccessKey":"\#(secret)","Token":"t"}"#.utf8))
        }
        let client = try InstanceMetadataClient(endpoint: URL(string: "http://127.0.0.1:9"), environment: [:],
                                                transport: transport)
        let error = await #expect(throws: IMDSError.self) { _ = try await client.instanceRoleCredentials(role: "r") }
        let shown = String(describing: error)
        #expect(!shown.contains(secret.prefix(12)), "\(shown)")
        #expect(shown.contains("not shown"))
    }

    @Test func clientsRegisterTheirSecretsProcessWide() async throws {
        let unique = AWSCredentials(accessKeyId: "AKIDREG", secretAccessKey: UUID().uuidString.replacingOccurrences(of: "-", with: ""))
        #expect(SecretRedactor.processWide.redact(unique.secretAccessKey) == unique.secretAccessKey)
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.returnTrue("DeleteVolume"))
        let client = EC2Client(region: "us-east-1", credentialsProvider: StaticCredentialsProvider(unique),
                               transport: transport, clock: EC2TestClock().clock)
        try await client.deleteVolume(volumeId: "vol-1")
        #expect(SecretRedactor.processWide.redact("x " + unique.secretAccessKey) == "x <redacted>")
    }
}

/// An IMDS transport answering from a closure.
private struct IMDSScriptedTransport: HTTPTransport {
    let answer: @Sendable (HTTPRequest) -> HTTPResponse

    init(_ answer: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.answer = answer
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        answer(request)
    }
}
