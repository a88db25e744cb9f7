import EC2Spot
import Foundation
import Testing

/// The standard chain in the AWS CLI's order, assume-role profiles (source_profile,
/// credential_source, chaining, loops) and the SSO refusal.
@Suite struct CredentialsChainOrderTests {
    static let future = Date(timeIntervalSince1970: 1_800_000_000 + 3600)

    func chain(_ scratch: CredentialsScratch, variables: [String: String], profile: String? = nil,
               transport: any HTTPTransport = ForbiddenSTSTransport(),
               instanceRole: (any CredentialsProvider)? = nil) -> CredentialsProviderChain {
        let environment = AWSEnvironment(variables: variables,
                                         files: SharedConfigFiles(credentialsPath: scratch.path("credentials"),
                                                                  configPath: scratch.path("config")),
                                         profile: profile)
        let time = ManualTime()
        return .standard(options: CredentialsChainOptions(
            environment: environment, transport: transport, clock: time.clock, stsRegion: "eu-west-1",
            stsRetryPolicy: .none, containerRelativeBase: URL(string: "http://127.0.0.1:9")!, instanceRole: instanceRole))
    }

    static let envKeys = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"]

    @Test func theChainAsksSourcesInTheCLIOrder() async throws {
        let scratch = try CredentialsScratch()
        let chain = chain(scratch, variables: [:], instanceRole: StaticCredentialsProvider(
            AWSCredentials(accessKeyId: "AKIDROLE", secretAccessKey: "role-secret")))
        #expect(chain.providers.map(\.name) == ["environment", "assume-role", "web-identity", "sso", "profile default",
                                                "credential-process", "profile default", "container", "static"])
        let empty = self.chain(scratch, variables: [:])
        let error = await #expect(throws: CredentialsError.self) { try await empty.requireCredentials() }
        #expect(error?.message.contains("environment, assume-role, web-identity, sso") == true)
    }

    @Test func credentialsFileBeatsCredentialProcessWhichBeatsConfigFileKeys() async throws {
        let scratch = try CredentialsScratch()
        let script = try scratch.write("proc.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"p\"}'\n",
                                       executable: true)
        try scratch.write("config", "[default]\ncredential_process = \(script)\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = c\n")
        try scratch.write("credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n")
        #expect(try await chain(scratch, variables: Self.envKeys).credentials()?.accessKeyId == "AKIDENV")
        #expect(try await chain(scratch, variables: [:]).credentials()?.accessKeyId == "AKIDFILE")
        try scratch.write("credentials", "")
        #expect(try await chain(scratch, variables: [:]).credentials()?.accessKeyId == "AKIDPROCESS")
        try scratch.write("config", "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = c\n")
        #expect(try await chain(scratch, variables: [:]).credentials()?.accessKeyId == "AKIDCONFIG")
    }

    @Test func anExplicitProfileSkipsTheEnvironmentKeysButAWSProfileDoesNot() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("credentials", "[train]\naws_access_key_id = AKIDTRAIN\naws_secret_access_key = t\n")
        #expect(try await chain(scratch, variables: Self.envKeys, profile: "train").credentials()?.accessKeyId == "AKIDTRAIN")
        var variables = Self.envKeys
        variables["AWS_PROFILE"] = "train"
        #expect(try await chain(scratch, variables: variables).credentials()?.accessKeyId == "AKIDENV")
    }

    @Test func anSSOProfileGetsAnExplanationNotNoCredentialsFound() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("config", """
            [profile dev]
            sso_session = corp
            sso_account_id = 123456789012
            sso_role_name = Admin
            region = us-east-1
            [sso-session corp]
            sso_start_url = https://corp.awsapps.com/start
            """)
        let error = await #expect(throws: CredentialsError.self) {
            try await chain(scratch, variables: [:], profile: "dev").requireCredentials()
        }
        let message = error?.message ?? ""
        #expect(message.contains("'dev'"), "\(message)")
        #expect(message.contains("SSO"))
        #expect(message.contains("aws configure export-credentials --profile dev"))
        // Exported credentials in the environment are used before the SSO profile is looked at.
        var variables = Self.envKeys
        variables["AWS_PROFILE"] = "dev"
        #expect(try await chain(scratch, variables: variables).credentials()?.accessKeyId == "AKIDENV")
    }

    @Test func assumeRoleWithASourceProfileSignsWithTheSourceAndBeatsTheProfileKeys() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n")
        try scratch.write("config", """
            [profile ops]
            role_arn = arn:aws:iam::123456789012:role/ops
            source_profile = base
            role_session_name = ops-session
            external_id = xyz
            duration_seconds = 1800
            """)
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: STSFixtures.success("AssumeRole", keyId: "ASIAOPS", secret: "s", token: "t", expiration: Self.future),
                          for: "AssumeRole")
        let chain = chain(scratch, variables: ["AWS_PROFILE": "ops", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:4566"],
                          transport: transport)
        #expect(try await chain.credentials()?.accessKeyId == "ASIAOPS")
        #expect(try await chain.credentials()?.accessKeyId == "ASIAOPS")  // cached
        let request = try #require(transport.requests.first)
        #expect(transport.requests.count == 1)
        #expect(request.url.absoluteString == "http://127.0.0.1:4566")
        #expect(request.headers["authorization"]?.contains("Credential=AKIDBASE/") == true)
        let parameters = ScriptedEC2Transport.parameters(request)
        #expect(parameters["RoleArn"] == "arn:aws:iam::123456789012:role/ops")
        #expect(parameters["RoleSessionName"] == "ops-session")
        #expect(parameters["ExternalId"] == "xyz")
        #expect(parameters["DurationSeconds"] == "1800")
    }

    @Test func roleChainingAssumesEachRoleWithThePreviousOnesCredentials() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("config", """
            [profile first]
            role_arn = arn:aws:iam::1:role/first
            source_profile = keys
            [profile second]
            role_arn = arn:aws:iam::2:role/second
            source_profile = first
            [profile keys]
            aws_access_key_id = AKIDKEYS
            aws_secret_access_key = k
            """)
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: STSFixtures.success("AssumeRole", keyId: "ASIAFIRST", secret: "s1", token: "t1", expiration: Self.future))
        transport.enqueue(xml: STSFixtures.success("AssumeRole", keyId: "ASIASECOND", secret: "s2", token: "t2", expiration: Self.future))
        let chain = chain(scratch, variables: ["AWS_PROFILE": "second"], transport: transport)
        #expect(try await chain.credentials()?.accessKeyId == "ASIASECOND")
        let requests = transport.requests
        #expect(requests.count == 2)
        #expect(ScriptedEC2Transport.parameters(requests[0])["RoleArn"] == "arn:aws:iam::1:role/first")
        #expect(requests[0].headers["authorization"]?.contains("Credential=AKIDKEYS/") == true)
        #expect(ScriptedEC2Transport.parameters(requests[1])["RoleArn"] == "arn:aws:iam::2:role/second")
        #expect(requests[1].headers["authorization"]?.contains("Credential=ASIAFIRST/") == true)
        #expect(requests[1].headers["x-amz-security-token"] == "t1")
    }

    @Test func aProfileMaySourceItsOwnStaticKeys() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("config", """
            [default]
            role_arn = arn:aws:iam::1:role/self
            source_profile = default
            aws_access_key_id = AKIDSELF
            aws_secret_access_key = self-secret
            """)
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: STSFixtures.success("AssumeRole", keyId: "ASIASELF", secret: "s", token: "t", expiration: Self.future))
        #expect(try await chain(scratch, variables: [:], transport: transport).credentials()?.accessKeyId == "ASIASELF")
        #expect(transport.requests.first?.headers["authorization"]?.contains("Credential=AKIDSELF/") == true)
    }

    @Test func credentialSourceEnvironmentSignsWithTheEnvironmentKeys() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("config", "[profile ci]\nrole_arn = arn:aws:iam::1:role/ci\ncredential_source = Environment\n")
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: STSFixtures.success("AssumeRole", keyId: "ASIACI", secret: "s", token: "t", expiration: Self.future))
        // --profile ci: the environment keys are not a link of the chain, but they are the role's source.
        let chain = chain(scratch, variables: Self.envKeys, profile: "ci", transport: transport)
        #expect(try await chain.credentials()?.accessKeyId == "ASIACI")
        #expect(transport.requests.first?.headers["authorization"]?.contains("Credential=AKIDENV/") == true)
    }

    @Test func inconsistentRoleProfilesAreConfigurationErrors() async throws {
        let scratch = try CredentialsScratch()
        try scratch.write("config", """
            [profile both]
            role_arn = arn:aws:iam::1:role/r
            source_profile = keys
            credential_source = Environment
            [profile neither]
            role_arn = arn:aws:iam::1:role/r
            [profile loop-a]
            role_arn = arn:aws:iam::1:role/a
            source_profile = loop-b
            [profile loop-b]
            role_arn = arn:aws:iam::1:role/b
            source_profile = loop-a
            [profile dangling]
            role_arn = arn:aws:iam::1:role/r
            source_profile = nowhere
            [profile unknown-source]
            role_arn = arn:aws:iam::1:role/r
            credential_source = Laptop
            [profile mfa]
            role_arn = arn:aws:iam::1:role/r
            source_profile = keys
            mfa_serial = arn:aws:iam::1:mfa/me
            [profile empty-source]
            role_arn = arn:aws:iam::1:role/r
            source_profile = nothing
            [profile nothing]
            region = us-east-1
            [profile keys]
            aws_access_key_id = AKIDKEYS
            aws_secret_access_key = k
            """)
        let expectations = [("both", "both source_profile and credential_source"),
                            ("neither", "neither source_profile nor credential_source"),
                            ("loop-a", "loop-a -> loop-b -> loop-a"),
                            ("dangling", "'nowhere'"),
                            ("unknown-source", "Laptop"),
                            ("mfa", "mfa_serial"),
                            ("empty-source", "has no credentials")]
        for (profile, expected) in expectations {
            let error = await #expect(throws: CredentialsError.self, "\(profile)") {
                try await chain(scratch, variables: [:], profile: profile).credentials()
            }
            #expect(error?.message.contains(expected) == true, "\(profile): \(String(describing: error))")
        }
    }

    @Test func environmentKeysReadTheOlderTokenNameAndTheExpiration() async throws {
        let credentials = try EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SECURITY_TOKEN": "OLD-NAME",
            "AWS_SESSION_TOKEN": "NEW-NAME", "AWS_CREDENTIAL_EXPIRATION": "2027-01-15T08:00:00Z",
        ]).resolve()
        #expect(credentials?.sessionToken == "OLD-NAME")
        #expect(credentials?.expiration == IMDSDateForTests.parse("2027-01-15T08:00:00Z"))
        let error = #expect(throws: CredentialsError.self) {
            try EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s",
                                                            "AWS_CREDENTIAL_EXPIRATION": "tomorrow"]).resolve()
        }
        #expect(error?.message.contains("AWS_CREDENTIAL_EXPIRATION") == true)
        let scratch = try CredentialsScratch()
        let files = try scratch.files(credentials: "[default]\naws_access_key_id = A\naws_secret_access_key = s\naws_security_token = PROFILE-OLD\n")
        #expect(try ProfileCredentialsProvider(files: files).resolve()?.sessionToken == "PROFILE-OLD")
    }
}
