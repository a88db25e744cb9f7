import EC2Spot
import Foundation

/// How every AWS-calling command resolves region, endpoints and credentials, in one place:
/// `--profile`, `--region` and `--endpoint` over the standard variables and shared files
/// (``AWSEnvironment``), the AWS CLI's credentials chain with the instance role last.
struct AWSClientSettings {
    /// The variables, shared files and profile.
    var environment: AWSEnvironment
    /// The region.
    var region: String
    /// The credentials chain.
    var credentials: CredentialsProviderChain
    /// How requests travel.
    var transport: any HTTPTransport

    /// Resolves the settings.
    /// - Parameters:
    ///   - variables: The process's environment.
    ///   - profile: `--profile` (an explicit profile: the chain then skips the environment keys,
    ///     as the AWS CLI does).
    ///   - region: `--region`.
    ///   - imds: The metadata client, asked for the region only when nothing else names one,
    ///     and the source of the instance role.
    ///   - transport: How requests travel.
    /// - Throws: ``EC2ConfigurationError`` for a named profile (other than `default`) that neither
    ///   shared file defines, as the AWS CLI refuses it; ``CredentialsError`` (unreadable shared
    ///   files), ``IMDSError`` (no region anywhere and IMDS unusable).
    static func resolve(variables: [String: String], profile: String?, region: String?,
                        imds: InstanceMetadataClient, transport: any HTTPTransport) async throws -> AWSClientSettings {
        let environment = AWSEnvironment(variables: variables, profile: profile)
        if environment.profile != "default", try !environment.files.profileExists(environment.profile) {
            throw EC2ConfigurationError(message: "the config profile '\(environment.profile)' could not be found in "
                + (environment.files.configPath ?? "no config file") + " or "
                + (environment.files.credentialsPath ?? "no credentials file"))
        }
        let resolvedRegion: String
        if let configured = try environment.region(explicit: region) {
            resolvedRegion = configured
        } else {
            resolvedRegion = try await imds.region()
        }
        let options = CredentialsChainOptions(environment: environment, transport: transport, stsRegion: resolvedRegion,
                                              instanceRole: InstanceRoleCredentialsProvider(client: imds))
        return AWSClientSettings(environment: environment, region: resolvedRegion,
                                 credentials: .standard(options: options), transport: transport)
    }

    /// The EC2 configuration: `--endpoint`, else `AWS_ENDPOINT_URL_EC2`, else the profile's
    /// `services` entry, else `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`.
    /// - Parameter endpoint: `--endpoint`.
    /// - Throws: ``EC2ConfigurationError`` for an endpoint that is not an http(s) URL.
    func ec2Configuration(endpoint: URL?) throws -> EC2Configuration {
        EC2Configuration(region: region, endpoint: try environment.endpoint(for: .ec2, explicit: endpoint),
                         credentialsProvider: credentials)
    }

    /// An S3 client with the same region and credentials: `endpoint`, else `AWS_ENDPOINT_URL_S3`,
    /// else the profile's `services` entry, else `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`.
    /// - Parameters:
    ///   - endpoint: An explicit S3 endpoint.
    ///   - retryPolicy: Attempts and backoff.
    /// - Throws: ``EC2ConfigurationError`` for an endpoint that is not an http(s) URL.
    func s3Client(endpoint: URL? = nil, retryPolicy: RetryPolicy = .standard) throws -> S3Client {
        try S3Client(environment: environment, region: region, endpoint: endpoint, credentialsProvider: credentials,
                     transport: transport, retryPolicy: retryPolicy)
    }
}
