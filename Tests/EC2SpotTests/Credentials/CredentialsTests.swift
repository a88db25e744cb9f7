import EC2Spot
import Foundation
import Testing

@Suite struct CredentialsTests {
    /// A scratch directory with the given files, removed by the caller.
    func scratch(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ec2spot-credentials-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".aws"),
                                                withIntermediateDirectories: true)
        for (name, text) in files {
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    @Test func environmentProviderReadsKeysAndToken() async throws {
        let provider = EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
        ])
        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "AKIDENV", secretAccessKey: "envsecret", sessionToken: "envtoken"))
        #expect(try await EnvironmentCredentialsProvider(environment: [:]).credentials() == nil)
    }

    @Test func environmentProviderRejectsHalfAPair() async {
        let provider = EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV"])
        let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(error?.message.contains("AWS_SECRET_ACCESS_KEY") == true)
    }

    @Test func profileProviderReadsNamedProfileFromBothFiles() async throws {
        let home = try scratch([
            ".aws/credentials": """
                [default]
                aws_access_key_id = AKIDDEFAULT
                aws_secret_access_key = defaultsecret

                [train]
                aws_access_key_id=AKIDTRAIN
                aws_secret_access_key=train/secret
                # a comment
                aws_session_token = traintoken
                """,
            ".aws/config": """
                [default]
                region = eu-west-1
                [profile train]
                region = us-west-2
                s3 =
                  max_concurrent_requests = 4
                """,
        ])
        defer { try? FileManager.default.removeItem(at: home) }
        let environment = ["HOME": home.path, "AWS_PROFILE": "train"]
        let chain = CredentialsProviderChain.standard(environment: environment)
        let credentials = try await chain.credentials()
        #expect(credentials?.accessKeyId == "AKIDTRAIN")
        #expect(credentials?.secretAccessKey == "train/secret")
        #expect(credentials?.sessionToken == "traintoken")
        let configuration = try EC2Configuration.fromEnvironment(environment)
        #expect(configuration.region == "us-west-2")
        #expect(configuration.endpoint.absoluteString == "https://ec2.us-west-2.amazonaws.com")
        let defaults = try EC2Configuration.fromEnvironment(["HOME": home.path])
        #expect(defaults.region == "eu-west-1")
        #expect(try await defaults.credentialsProvider.credentials()?.accessKeyId == "AKIDDEFAULT")
    }

    @Test func explicitFilePathsWinAndConfigMayHoldKeys() async throws {
        let directory = try scratch([
            "creds": "[ci]\naws_access_key_id = AKIDFILE\naws_secret_access_key = filesecret\n",
            "conf": "[profile ci]\nregion = ap-south-1\nendpoint_url = http://127.0.0.1:5000\n",
            "conf-only": "[profile solo]\naws_access_key_id = AKIDCONF\naws_secret_access_key = confsecret\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["AWS_SHARED_CREDENTIALS_FILE": directory.appendingPathComponent("creds").path,
                           "AWS_CONFIG_FILE": directory.appendingPathComponent("conf").path,
                           "AWS_PROFILE": "ci", "HOME": "/nonexistent"]
        let configuration = try EC2Configuration.fromEnvironment(environment)
        #expect(configuration.region == "ap-south-1")
        #expect(configuration.endpoint.absoluteString == "http://127.0.0.1:5000")
        #expect(try await configuration.credentialsProvider.credentials()?.accessKeyId == "AKIDFILE")

        let solo = SharedConfigFiles(credentialsPath: nil, configPath: directory.appendingPathComponent("conf-only").path)
        #expect(try await ProfileCredentialsProvider(files: solo, profile: "solo").credentials()?.accessKeyId == "AKIDCONF")
    }

    @Test func environmentBeatsProfileInTheChain() async throws {
        let home = try scratch([".aws/credentials": "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n"])
        defer { try? FileManager.default.removeItem(at: home) }
        let chain = CredentialsProviderChain.standard(environment: [
            "HOME": home.path, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e",
        ])
        #expect(try await chain.credentials()?.accessKeyId == "AKIDENV")
    }

    @Test func chainFallsThroughToAdditionalProviders() async throws {
        let role = StaticCredentialsProvider(AWSCredentials(accessKeyId: "ASIAROLE", secretAccessKey: "r", sessionToken: "t"))
        let chain = CredentialsProviderChain.standard(environment: ["HOME": "/nonexistent"], additional: [role])
        #expect(try await chain.credentials()?.accessKeyId == "ASIAROLE")
        let empty = CredentialsProviderChain.standard(environment: ["HOME": "/nonexistent"])
        let error = await #expect(throws: CredentialsError.self) { try await empty.requireCredentials() }
        #expect(error?.message.contains("environment") == true)
    }

    @Test func regionAndEndpointPrecedence() throws {
        let environment = ["HOME": "/nonexistent", "AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-west-1",
                           "AWS_ENDPOINT_URL": "http://127.0.0.1:1111", "AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:2222"]
        let resolved = try EC2Configuration.fromEnvironment(environment)
        #expect(resolved.region == "us-east-2")
        #expect(resolved.endpoint.absoluteString == "http://127.0.0.1:2222")
        let explicit = try EC2Configuration.fromEnvironment(environment, region: "eu-north-1",
                                                            endpoint: URL(string: "http://[::1]:3333"))
        #expect(explicit.region == "eu-north-1")
        #expect(explicit.endpoint.absoluteString == "http://[::1]:3333")
        var fallback = environment
        fallback["AWS_REGION"] = nil
        fallback["AWS_ENDPOINT_URL_EC2"] = nil
        let generic = try EC2Configuration.fromEnvironment(fallback)
        #expect(generic.region == "us-west-1")
        #expect(generic.endpoint.absoluteString == "http://127.0.0.1:1111")
        let imds = try EC2Configuration.fromEnvironment(["HOME": "/nonexistent"], fallbackRegion: "cn-north-1")
        #expect(imds.endpoint.absoluteString == "https://ec2.cn-north-1.amazonaws.com.cn")
        #expect(throws: EC2ConfigurationError.self) { try EC2Configuration.fromEnvironment(["HOME": "/nonexistent"]) }
        #expect(throws: EC2ConfigurationError.self) {
            try EC2Configuration.fromEnvironment(["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "ftp://x"])
        }
    }

    @Test func secretsNeverAppearInDescriptions() async {
        let credentials = AWSCredentials(accessKeyId: "AKIDVISIBLE", secretAccessKey: "SuperSecret/Value+1",
                                         sessionToken: "TokenSecretValue")
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [credentials.description, credentials.debugDescription, "\(credentials)",
                     String(reflecting: credentials), dumped] {
            #expect(text.contains("AKIDVISIBLE"))
            #expect(!text.contains("SuperSecret"))
            #expect(!text.contains("TokenSecretValue"))
        }
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ec2")
        #expect(!String(describing: signer).contains("SuperSecret"))

        // A failing request: neither the error nor its description carries the secret.
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 401, xml: EC2XMLBodies.ec2Error(code: "AuthFailure", message: "AWS was not able to validate the provided access credentials"))
        let client = EC2Client(region: "us-east-1", credentialsProvider: StaticCredentialsProvider(credentials),
                               transport: transport, clock: EC2TestClock().clock, retryPolicy: .none)
        do {
            _ = try await client.describeVolumes()
            Issue.record("expected AuthFailure")
        } catch {
            #expect(!String(describing: error).contains("SuperSecret"))
            #expect(!String(reflecting: error).contains("SuperSecret"))
        }
        let request = transport.requests.first
        #expect(request.map { !String(decoding: $0.body, as: UTF8.self).contains("SuperSecret") } == true)
    }
}
