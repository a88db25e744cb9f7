import ArgumentParser
import EC2Spot
import Foundation

/// The AWS options of the operator's `job up`, `job status` and `job down`: `--region` and
/// `--profile` over the standard variables and shared files (endpoints from
/// `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_AUTO_SCALING`, `AWS_ENDPOINT_URL_S3`,
/// `AWS_ENDPOINT_URL` or the profile, as everywhere else).
struct JobAWSOptions: ParsableArguments {
    @Option(help: "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else IMDS).")
    var region: String?

    @Option(help: "Shared-config profile (default: AWS_PROFILE, else 'default').")
    var profile: String?

    func validate() throws {
        if let region, region.isEmpty || region.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-") }) {
            throw ValidationError("--region must be a region name such as us-east-1, not '\(region)'")
        }
    }

    /// Resolves the settings and builds the three clients the operator's commands use.
    /// - Returns: The clients.
    /// - Throws: ``EC2ConfigurationError``, ``CredentialsError``, ``IMDSError`` (no region anywhere).
    func makeClients() async throws -> JobAWSClients {
        let variables = ProcessInfo.processInfo.environment
        let imds = try InstanceMetadataClient(environment: variables)
        let transport = AsyncHTTPClientTransport.aws(environment: variables)
        let settings = try await AWSClientSettings.resolve(variables: variables, profile: profile, region: region,
                                                          imds: imds, transport: transport)
        var ec2 = EC2Client(configuration: try settings.ec2Configuration(endpoint: nil), transport: transport)
        ec2.clockCorrection = ClockSkewCorrection(onAdjust: warnClockSkewCorrected)
        let autoScaling = try AutoScalingClient(environment: settings.environment, region: settings.region,
                                                credentialsProvider: settings.credentials, transport: transport)
        return JobAWSClients(region: settings.region, ec2: ec2, autoScaling: autoScaling, s3: try settings.s3Client())
    }
}

/// The clients of the operator's job commands.
struct JobAWSClients: Sendable {
    /// The resolved region.
    var region: String
    /// EC2 (launch templates, instances, spot prices).
    var ec2: EC2Client
    /// Auto Scaling (the job's group).
    var autoScaling: AutoScalingClient
    /// S3 (the job's store).
    var s3: S3Client

    /// The job's store at `url`.
    /// - Throws: ``JobError`` (`.refusedArgument`) for a URL that is not `s3://BUCKET/PREFIX`.
    func store(_ url: String) throws -> JobStore {
        let (bucket, prefix) = try JobNames.parseStore(url)
        return JobStore(client: s3, bucket: bucket, prefix: prefix)
    }
}
