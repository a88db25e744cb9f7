import EC2Spot
import Foundation
import Testing

/// `credential_process`: splitting, the JSON contract, caching by `Expiration`, and every way
/// a command can fail, without any error quoting the command's standard output.
@Suite struct ProcessCredentialsProviderTests {
    static let secret = "process/Secret+Key0123456789"
    static let token = "PROCESS-SESSION-TOKEN-abcdef"

    /// A profile `default` whose credential_process is `command`.
    func provider(_ scratch: CredentialsScratch, command: String, timeout: Duration = .seconds(20),
                  outputLimit: Int = 64 * 1024, time: ManualTime = ManualTime()) throws -> ProcessCredentialsProvider {
        let files = try scratch.files(config: "[default]\ncredential_process = \(command)\n")
        return ProcessCredentialsProvider(files: files, profile: "default",
                                          environment: ["PATH": "/usr/bin:/bin", "COUNT_FILE": scratch.path("count")],
                                          timeout: timeout, outputLimit: outputLimit,
                                          cache: TemporaryCredentialsCache(now: { time.now }))
    }

    func script(_ scratch: CredentialsScratch, _ body: String) throws -> String {
        try scratch.write("process-\(UUID().uuidString).sh", "#!/bin/sh\n" + body + "\n", executable: true)
    }

    func expectNoSecret(_ error: CredentialsError?) {
        let text = error.map { "\($0)" } ?? ""
        #expect(!text.contains(Self.secret), "\(text)")
        #expect(!text.contains(Self.token), "\(text)")
    }

    @Test func splitFollowsPosixShlex() throws {
        let cases: [(String, [String])] = [
            ("aws-vault export --format=json prod", ["aws-vault", "export", "--format=json", "prod"]),
            ("  /opt/my tool  ", ["/opt/my", "tool"]),
            ("'/opt/my tool/bin' --flag 'a b'", ["/opt/my tool/bin", "--flag", "a b"]),
            ("run \"a \\\"quoted\\\" word\" \"keep\\$dollar\"", ["run", "a \"quoted\" word", "keep\\$dollar"]),
            ("a\\ b c", ["a b", "c"]),
            ("x '' y", ["x", "", "y"]),
            ("pre'fix'\"suffix\"", ["prefixsuffix"]),
            ("cmd # not a comment", ["cmd", "#", "not", "a", "comment"]),
        ]
        for (line, words) in cases {
            #expect(try ProcessCredentialsProvider.splitCommand(line) == words, "\(line)")
        }
        for bad in ["unclosed 'quote", "unclosed \"quote", "trailing\\"] {
            #expect(throws: CredentialsError.self) { try ProcessCredentialsProvider.splitCommand(bad) }
        }
    }

    @Test func readsVersionOneJSONWithTokenAndExpirationAndRefreshesBeforeIt() async throws {
        let scratch = try CredentialsScratch()
        let time = ManualTime()
        let expiration = STSFixtures.iso(time.now.addingTimeInterval(3600))
        let path = try script(scratch, """
            n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNT_FILE"
            printf '{"Version": 1, "AccessKeyId": "AKIDPROC%s", "SecretAccessKey": "\(Self.secret)", "SessionToken": "\(Self.token)", "Expiration": "\(expiration)"}' "$n"
            """)
        let provider = try provider(scratch, command: "'\(path)' --profile x", time: time)
        let first = try #require(try await provider.credentials())
        #expect(first.accessKeyId == "AKIDPROC1")
        #expect(first.secretAccessKey == Self.secret)
        #expect(first.sessionToken == Self.token)
        #expect(first.expiration == IMDSDateForTests.parse(expiration))
        time.advance(3000)  // 10 minutes before expiry: still cached
        #expect(try await provider.credentials()?.accessKeyId == "AKIDPROC1")
        time.advance(360)   // inside the five-minute margin: the command runs again
        #expect(try await provider.credentials()?.accessKeyId == "AKIDPROC2")
        #expect(await provider.cache.fetchCount == 2)
    }

    @Test func credentialsWithoutExpirationRunTheCommandOnce() async throws {
        let scratch = try CredentialsScratch()
        let path = try script(scratch, """
            n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNT_FILE"
            echo '{"Version": 1, "AccessKeyId": "AKIDLONG", "SecretAccessKey": "\(Self.secret)"}'
            """)
        let provider = try provider(scratch, command: path)
        #expect(try await provider.credentials()?.sessionToken == nil)
        #expect(try await provider.credentials()?.accessKeyId == "AKIDLONG")
        #expect(try String(contentsOfFile: scratch.path("count"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }

    @Test func noCredentialProcessMeansNotConfigured() async throws {
        let scratch = try CredentialsScratch()
        let files = try scratch.files(config: "[default]\nregion = us-east-1\n")
        #expect(try await ProcessCredentialsProvider(files: files, profile: "default").credentials() == nil)
    }

    @Test func badJSONWrongVersionAndMissingKeysAreTypedErrorsWithoutTheOutput() async throws {
        let scratch = try CredentialsScratch()
        let outputs: [(String, String)] = [
            ("not json \(Self.secret)", "JSON object"),
            ("{\"Version\": 2, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"\(Self.secret)\"}", "Version 2"),
            ("{\"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"\(Self.secret)\"}", "Version none"),
            ("{\"Version\": 1, \"SecretAccessKey\": \"\(Self.secret)\"}", "AccessKeyId"),
            ("{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SessionToken\": \"\(Self.token)\"}", "SecretAccessKey"),
            ("{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"\(Self.secret)\", \"Expiration\": \"soon\"}",
             "Expiration"),
        ]
        for (output, expected) in outputs {
            let path = try scratch.write("out-\(UUID().uuidString).json", output)
            let provider = try provider(scratch, command: "cat \(path)")
            let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
            #expect(error?.message.contains("cat") == true)
            expectNoSecret(error)
        }
    }

    @Test func nonZeroExitQuotesStandardErrorButNeverStandardOutput() async throws {
        let scratch = try CredentialsScratch()
        let path = try script(scratch, """
            echo '{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "\(Self.secret)"}'
            echo 'token expired, run login' >&2
            exit 3
            """)
        let provider = try provider(scratch, command: "\(path) --token \(Self.token)")
        let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(error?.message.contains("status 3") == true, "\(String(describing: error))")
        #expect(error?.message.contains("token expired, run login") == true)
        expectNoSecret(error)  // neither stdout nor the command's arguments
    }

    @Test func hugeOutputIsCutOffAndTheCommandKilled() async throws {
        let scratch = try CredentialsScratch()
        let path = try script(scratch, "while :; do echo \(Self.secret)\(Self.secret)\(Self.secret); done")
        let provider = try provider(scratch, command: path, outputLimit: 4096)
        let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(error?.message.contains("more than 4096 bytes") == true, "\(String(describing: error))")
        expectNoSecret(error)
    }

    @Test func aHangingCommandTimesOut() async throws {
        let scratch = try CredentialsScratch()
        let path = try script(scratch, "echo '{\"Version\": 1,'\nexec sleep 30")
        let provider = try provider(scratch, command: path, timeout: .milliseconds(300))
        let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(error?.message.contains("did not finish") == true, "\(String(describing: error))")
    }

    @Test func aMissingProgramIsATypedError() async throws {
        let scratch = try CredentialsScratch()
        for command in ["no-such-credential-helper-xyz --json", scratch.path("missing.sh"), "'unclosed"] {
            let provider = try provider(scratch, command: command)
            await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        }
    }
}

/// Parses ISO 8601 the way the providers do (the library's parser is internal).
enum IMDSDateForTests {
    static func parse(_ text: String) -> Date? { try? Date(text, strategy: Date.ISO8601FormatStyle()) }
}
