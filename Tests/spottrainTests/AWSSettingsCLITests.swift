import Foundation
import Testing

/// `spottrain ec2 …` resolves endpoints from the standard variables (service-specific beats
/// global, `--endpoint` beats both) and explains SSO profiles instead of "no credentials".
@Suite struct AWSSettingsCLITests {
    func describe(_ extra: [String], environment overrides: [String: String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(["ec2", "describe-volumes", "--region", "us-east-1", "--max-attempts", "1"] + extra,
                                   environment: .hermetic(overriding: overrides))
    }

    @Test func ec2EndpointVariableBeatsTheGlobalOneAndTheFlagBeatsBoth() async throws {
        let ec2Port = Fixtures.closedLoopbackPort()
        var globalPort = Fixtures.closedLoopbackPort()
        while globalPort == ec2Port { globalPort = Fixtures.closedLoopbackPort() }
        // The transport's message names the port it could not reach.
        let variables = ["AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:\(ec2Port)",
                         "AWS_ENDPOINT_URL": "http://127.0.0.1:\(globalPort)"]
        let specific = try await describe([], environment: variables)
        #expect(specific.status == 1, "\(specific.stderr)")
        #expect(specific.stderr.contains("\(ec2Port)") && !specific.stderr.contains("\(globalPort)"), "\(specific.stderr)")
        let global = try await describe([], environment: ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(globalPort)"])
        #expect(global.stderr.contains("\(globalPort)"), "\(global.stderr)")
        var flagPort = Fixtures.closedLoopbackPort()
        while flagPort == ec2Port || flagPort == globalPort { flagPort = Fixtures.closedLoopbackPort() }
        let flag = try await describe(["--endpoint", "http://127.0.0.1:\(flagPort)"], environment: variables)
        #expect(flag.stderr.contains("\(flagPort)") && !flag.stderr.contains("\(ec2Port)"), "\(flag.stderr)")
        let bad = try await describe([], environment: ["AWS_ENDPOINT_URL_EC2": "ftp://nowhere"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("AWS_ENDPOINT_URL_EC2"), "\(bad.stderr)")
    }

    @Test func anSSOProfileSaysToExportCredentials() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/config"
        try Data("[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n".utf8)
            .write(to: URL(fileURLWithPath: config))
        let port = Fixtures.closedLoopbackPort()
        // --profile: the hermetic environment keys are ignored, as with the AWS CLI.
        let result = try await describe(["--profile", "dev", "--endpoint", "http://127.0.0.1:\(port)"],
                                        environment: ["AWS_CONFIG_FILE": config])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("profile 'dev'"))
        #expect(result.stderr.contains("aws configure export-credentials --profile dev"))
        #expect(!result.stderr.contains("no AWS credentials"))
    }

    @Test func aProfileThatNoFileDefinesIsRefusedByName() async throws {
        let port = Fixtures.closedLoopbackPort()
        let result = try await describe(["--profile", "typo", "--endpoint", "http://127.0.0.1:\(port)"], environment: [:])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("profile 'typo' could not be found"), "\(result.stderr)")
        let variable = try await describe(["--endpoint", "http://127.0.0.1:\(port)"], environment: ["AWS_PROFILE": "typo"])
        #expect(variable.stderr.contains("profile 'typo' could not be found"), "\(variable.stderr)")
    }
}
