import EC2Spot
import Foundation
import Testing

/// AssumeRole and AssumeRoleWithWebIdentity against moto's STS, then an EC2 call signed with
/// the role's credentials. Skipped unless `Scripts/ci/moto.sh start` exported the endpoint.
@Suite(.enabled(if: Moto.endpoint != nil,
                "set SPOTTRAIN_MOTO_ENDPOINT (eval \"$(Scripts/ci/moto.sh start)\") to run the moto tests"))
struct MotoSTSIntegrationTests {
    @Test func aRoleProfileAssumesTheRoleAtMotoAndSignsEC2WithIt() async throws {
        let endpoint = try #require(Moto.endpoint)
        let scratch = try CredentialsScratch()
        let tokenPath = try scratch.write("token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln")
        try scratch.write("credentials", "[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
        try scratch.write("config", """
            [profile ops]
            role_arn = arn:aws:iam::123456789012:role/spottrain-ops
            source_profile = base
            role_session_name = moto-test
            [profile web]
            role_arn = arn:aws:iam::123456789012:role/spottrain-web
            web_identity_token_file = \(tokenPath)
            """)
        for profile in ["ops", "web"] {
            let environment = AWSEnvironment(variables: ["AWS_ENDPOINT_URL": endpoint.absoluteString, "AWS_REGION": Moto.region],
                                             files: SharedConfigFiles(credentialsPath: scratch.path("credentials"),
                                                                      configPath: scratch.path("config")),
                                             profile: profile)
            let chain = CredentialsProviderChain.standard(options: CredentialsChainOptions(
                environment: environment, transport: AsyncHTTPClientTransport.aws(),
                containerRelativeBase: URL(string: "http://127.0.0.1:9")!))
            let credentials = try #require(try await chain.credentials(), "\(profile)")
            #expect(credentials.accessKeyId != "testing", "\(profile)")
            #expect(credentials.sessionToken != nil)
            #expect(credentials.expiration != nil)
            let client = EC2Client(configuration: try EC2Configuration.fromEnvironment(
                ["AWS_ENDPOINT_URL": endpoint.absoluteString, "AWS_REGION": Moto.region, "HOME": "/nonexistent"]),
                transport: AsyncHTTPClientTransport.aws())
            var signed = client
            signed.credentialsProvider = chain
            _ = try await signed.describeVolumes()
        }
    }
}
