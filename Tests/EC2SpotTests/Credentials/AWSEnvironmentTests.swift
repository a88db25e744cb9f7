import EC2Spot
import Foundation
import Testing

/// Region and endpoint resolution from the standard variables and the profile, as the AWS CLI does it.
@Suite struct AWSEnvironmentTests {
    let scratch: CredentialsScratch

    init() throws { scratch = try CredentialsScratch() }

    /// Settings with `variables` and a config file holding `config`.
    func environment(_ variables: [String: String], config: String = "", profile: String? = nil) throws -> AWSEnvironment {
        let configPath = try scratch.write("config-\(UUID().uuidString)", config)
        return AWSEnvironment(variables: variables, files: SharedConfigFiles(credentialsPath: nil, configPath: configPath),
                              profile: profile)
    }

    @Test func serviceVariableBeatsGlobalVariableAndExplicitBeatsBoth() throws {
        let settings = try environment(["AWS_ENDPOINT_URL": "http://127.0.0.1:1000",
                                        "AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:2000",
                                        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:3000",
                                        "AWS_ENDPOINT_URL_AUTO_SCALING": "http://127.0.0.1:4000"])
        #expect(try settings.endpoint(for: .ec2)?.absoluteString == "http://127.0.0.1:2000")
        #expect(try settings.endpoint(for: .s3)?.absoluteString == "http://127.0.0.1:3000")
        #expect(try settings.endpoint(for: .autoScaling)?.absoluteString == "http://127.0.0.1:4000")
        #expect(try settings.endpoint(for: .sts)?.absoluteString == "http://127.0.0.1:1000")
        let explicit = URL(string: "http://127.0.0.1:5000")!
        #expect(try settings.endpoint(for: .ec2, explicit: explicit) == explicit)
        #expect(try settings.endpoint(for: .s3, explicit: explicit) == explicit)
    }

    @Test func profileEndpointsComeAfterTheVariables() throws {
        let config = """
            [default]
            endpoint_url = http://127.0.0.1:6000
            services = local
            [services local]
            s3 =
              endpoint_url = http://127.0.0.1:7000
            auto_scaling =
              endpoint_url = http://127.0.0.1:7100
            """
        let plain = try environment([:], config: config)
        #expect(try plain.endpoint(for: .s3)?.absoluteString == "http://127.0.0.1:7000")
        #expect(try plain.endpoint(for: .autoScaling)?.absoluteString == "http://127.0.0.1:7100")
        #expect(try plain.endpoint(for: .ec2)?.absoluteString == "http://127.0.0.1:6000")
        let global = try environment(["AWS_ENDPOINT_URL": "http://127.0.0.1:1000"], config: config)
        #expect(try global.endpoint(for: .s3)?.absoluteString == "http://127.0.0.1:7000")  // service entry beats the global variable
        #expect(try global.endpoint(for: .ec2)?.absoluteString == "http://127.0.0.1:1000")  // global variable beats profile endpoint_url
        let specific = try environment(["AWS_ENDPOINT_URL_S3": "http://127.0.0.1:3000"], config: config)
        #expect(try specific.endpoint(for: .s3)?.absoluteString == "http://127.0.0.1:3000")
    }

    @Test func ignoreConfiguredEndpointURLsFallsBackToThePublicEndpoint() throws {
        let settings = try environment(["AWS_ENDPOINT_URL": "http://127.0.0.1:1000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"])
        #expect(try settings.endpoint(for: .ec2) == nil)
        #expect(try settings.resolvedEndpoint(for: .ec2, region: "eu-west-1").absoluteString == "https://ec2.eu-west-1.amazonaws.com")
        #expect(try settings.resolvedEndpoint(for: .autoScaling, region: "cn-north-1").absoluteString
                == "https://autoscaling.cn-north-1.amazonaws.com.cn")
        let explicit = URL(string: "http://127.0.0.1:5000")!
        #expect(try settings.endpoint(for: .ec2, explicit: explicit) == explicit)
    }

    @Test func aMalformedEndpointNamesItsSource() throws {
        let settings = try environment(["AWS_ENDPOINT_URL_S3": "ftp://bucket-host"])
        let error = #expect(throws: EC2ConfigurationError.self) { try settings.endpoint(for: .s3) }
        #expect(error?.message.contains("AWS_ENDPOINT_URL_S3") == true)
        #expect(try settings.endpoint(for: .ec2) == nil)
    }

    @Test func regionPrecedenceIsFlagThenAWSRegionThenDefaultRegionThenProfileThenFallback() throws {
        let config = "[default]\nregion = eu-central-1\n[profile other]\nregion = ap-south-1\n"
        let all = try environment(["AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-east-2"], config: config)
        #expect(try all.region(explicit: "eu-north-1") == "eu-north-1")
        #expect(try all.region() == "us-west-2")
        #expect(try environment(["AWS_DEFAULT_REGION": "us-east-2"], config: config).region() == "us-east-2")
        #expect(try environment([:], config: config).region(fallback: "sa-east-1") == "eu-central-1")
        #expect(try environment(["AWS_PROFILE": "other"], config: config).region() == "ap-south-1")
        #expect(try environment([:], config: config, profile: "other").region() == "ap-south-1")
        #expect(try environment([:]).region(fallback: "sa-east-1") == "sa-east-1")
        #expect(try environment([:]).region() == nil)
        #expect(throws: EC2ConfigurationError.self) { try environment([:]).requireRegion() }
    }

    @Test func s3ClientAndEC2ConfigurationResolveThroughTheSameRules() throws {
        let variables = ["AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1000",
                         "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:3000", "HOME": "/nonexistent"]
        let s3 = try S3Client(environment: AWSEnvironment(variables: variables),
                              credentialsProvider: StaticCredentialsProvider(AWSCredentials(accessKeyId: "A", secretAccessKey: "s")))
        #expect(s3.endpoint.absoluteString == "http://127.0.0.1:3000")
        #expect(s3.addressing == .path)
        #expect(s3.region == "eu-west-1")
        let ec2 = try EC2Configuration.fromEnvironment(variables)
        #expect(ec2.endpoint.absoluteString == "http://127.0.0.1:1000")
        let aws = try S3Client(environment: AWSEnvironment(variables: ["HOME": "/nonexistent"]), region: "us-east-2",
                               credentialsProvider: StaticCredentialsProvider(AWSCredentials(accessKeyId: "A", secretAccessKey: "s")))
        #expect(aws.endpoint.absoluteString == "https://s3.us-east-2.amazonaws.com")
        #expect(aws.addressing == .virtualHosted)
    }
}
