import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain ec2`: EBS volume and spot-instance control, and the interruption watcher.
struct EC2Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ec2",
        abstract: "Keep a persistent EBS volume attached, launch spot instances, watch for interruptions.",
        discussion: """
        Results are JSON on standard output; errors are one line on standard error. Exit codes: 0 done, \
        1 runtime error (AWS, IMDS, network), 64 usage error.

        Off an instance, pass --region (or AWS_REGION), --instance-id and --availability-zone; on an \
        instance they come from the instance-metadata service (IMDSv2), whose endpoint is \
        --imds-endpoint, else AWS_EC2_METADATA_SERVICE_ENDPOINT, else the real one. Credentials, in the \
        AWS CLI's order: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] (not with --profile), \
        the profile's role_arn (assume-role), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the shared \
        credentials file, credential_process, the config file, the container endpoint \
        (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI), then the instance's IAM role. SSO profiles are not \
        supported: export their credentials (aws configure export-credentials).
        """,
        subcommands: [
            EC2EnsureVolumeCommand.self,
            EC2DescribeVolumesCommand.self,
            EC2DetachVolumeCommand.self,
            EC2LaunchSpotCommand.self,
            EC2ReportBootFailureCommand.self,
            EC2WatchCommand.self,
        ]
    )
}

/// `--imds-endpoint`, shared by every `ec2` subcommand.
struct EC2MetadataOptions: ParsableArguments {
    @Option(name: .customLong("imds-endpoint"),
            help: "Instance-metadata endpoint, http://host[:port] (default: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the real IMDS).")
    var imdsEndpoint: String?

    func validate() throws {
        if let imdsEndpoint {
            guard let url = URL(string: imdsEndpoint), url.scheme?.lowercased() == "http",
                  let host = url.host, !host.isEmpty else {
                throw ValidationError("--imds-endpoint must be an http:// URL with a host, not '\(imdsEndpoint)'")
            }
        }
    }

    /// The metadata client: `--imds-endpoint`, else the environment, else the real IMDS.
    /// - Throws: ``IMDSError`` when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not usable.
    func makeClient(environment: [String: String]) throws -> InstanceMetadataClient {
        try InstanceMetadataClient(endpoint: imdsEndpoint.flatMap(URL.init(string:)), environment: environment)
    }
}

/// The options every EC2-calling subcommand shares.
struct EC2Options: ParsableArguments {
    @OptionGroup var metadata: EC2MetadataOptions

    @Option(help: "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else IMDS).")
    var region: String?

    @Option(help: "EC2 endpoint URL (default: AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, the profile's endpoint_url, else the region's).")
    var endpoint: String?

    @Option(help: "Shared-config profile (default: AWS_PROFILE, else 'default'); like the AWS CLI's, it makes the environment's keys ignored.")
    var profile: String?

    @Option(name: .customLong("instance-id"), help: "This instance's id (default: from IMDS).")
    var instanceId: String?

    @Option(name: .customLong("availability-zone"), help: "This instance's Availability Zone (default: from IMDS).")
    var availabilityZone: String?

    @Option(name: .customLong("max-attempts"), help: "Attempts per EC2 request, retries included (1 disables retries).")
    var maxAttempts: Int = 5

    func validate() throws {
        if let endpoint {
            guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
                throw ValidationError("--endpoint must be an http(s):// URL with a host, not '\(endpoint)'")
            }
        }
        if let region, region.isEmpty { throw ValidationError("--region must not be empty") }
        if let instanceId, !instanceId.hasPrefix("i-") {
            throw ValidationError("--instance-id must look like i-…, not '\(instanceId)'")
        }
        if let availabilityZone, availabilityZone.isEmpty { throw ValidationError("--availability-zone must not be empty") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
    }

    /// Resolves region, endpoint and credentials, and builds the clients.
    /// - Throws: ``EC2ConfigurationError``, ``IMDSError``, ``CredentialsError``.
    func makeContext() async throws -> EC2CommandContext {
        let variables = ProcessInfo.processInfo.environment
        let imds = try metadata.makeClient(environment: variables)
        let transport = AsyncHTTPClientTransport.aws(environment: variables)
        let settings = try await AWSClientSettings.resolve(variables: variables, profile: profile, region: region,
                                                          imds: imds, transport: transport)
        let resolved = try settings.ec2Configuration(endpoint: endpoint.flatMap(URL.init(string:)))
        var client = EC2Client(configuration: resolved, transport: transport,
                               retryPolicy: RetryPolicy(maxAttempts: maxAttempts))
        client.clockCorrection = ClockSkewCorrection(onAdjust: warnClockSkewCorrected)
        return EC2CommandContext(client: client, imds: imds, instanceIdOverride: instanceId,
                                 availabilityZoneOverride: availabilityZone)
    }
}

/// The clients and overrides a subcommand works with.
struct EC2CommandContext {
    /// The EC2 client.
    var client: EC2Client
    /// The metadata client (asked only for what the command line did not say).
    var imds: InstanceMetadataClient
    /// `--instance-id`.
    var instanceIdOverride: String?
    /// `--availability-zone`.
    var availabilityZoneOverride: String?

    /// `--instance-id`, else this instance's id from IMDS.
    func instanceId() async throws -> String {
        if let instanceIdOverride { return instanceIdOverride }
        return try await imds.instanceID()
    }

    /// `--availability-zone`, else this instance's zone from IMDS.
    func availabilityZone() async throws -> String {
        if let availabilityZoneOverride { return availabilityZoneOverride }
        return try await imds.availabilityZone()
    }
}

/// Parses a positive number of seconds (`5`, `0.25`) into a `Duration`.
func ec2Seconds(_ value: Double, option: String) throws -> Duration {
    guard value.isFinite, value > 0, value <= 86_400 else {
        throw ValidationError("\(option) must be a number of seconds in (0, 86400], not \(value)")
    }
    return .milliseconds(Int64((value * 1000).rounded(.up)))
}
