import Foundation

/// Where and as whom an ``EC2Client`` talks to EC2: region, endpoint and credentials.
public struct EC2Configuration: Sendable {
    /// The region, for example `us-east-1` (also the SigV4 signing region).
    public var region: String
    /// The endpoint, for example `https://ec2.us-east-1.amazonaws.com` or a moto server.
    public var endpoint: URL
    /// Where credentials come from (asked before every request; providers cache).
    public var credentialsProvider: any CredentialsProvider

    /// Creates a configuration.
    /// - Parameters:
    ///   - region: The region; must not be empty.
    ///   - endpoint: The endpoint (nil: the public endpoint of `region`).
    ///   - credentialsProvider: The credentials source.
    public init(region: String, endpoint: URL? = nil, credentialsProvider: any CredentialsProvider) {
        precondition(!region.isEmpty, "EC2Configuration: region is empty")
        self.region = region
        self.endpoint = endpoint ?? Self.defaultEndpoint(region: region)
        self.credentialsProvider = credentialsProvider
    }

    /// The public EC2 endpoint of `region` (`https://ec2.<region>.amazonaws.com`,
    /// `.amazonaws.com.cn` in China).
    /// - Parameter region: The region.
    /// - Returns: The endpoint URL.
    public static func defaultEndpoint(region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://ec2.\(region).\(suffix)")!
    }

    /// Resolves region, endpoint and credentials the way the AWS CLI does.
    ///
    /// - Region: `region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's
    ///   `region` in the config file, else `fallbackRegion` (for example the instance's region
    ///   from IMDS).
    /// - Endpoint: `endpoint`, else `AWS_ENDPOINT_URL_EC2`, else the `ec2` entry of the
    ///   profile's `services` section, else `AWS_ENDPOINT_URL`, else the profile's
    ///   `endpoint_url`, else ``defaultEndpoint(region:)`` (see ``AWSEnvironment``).
    /// - Credentials: ``CredentialsProviderChain/standard(environment:files:additional:)``
    ///   with `additionalCredentialsProviders` (for example an instance-role provider) last.
    /// - Parameters:
    ///   - environment: The environment variables (inject a dictionary in tests).
    ///   - files: The shared files (default: resolved from `environment`).
    ///   - region: An explicit region, winning over everything else.
    ///   - endpoint: An explicit endpoint, winning over everything else.
    ///   - fallbackRegion: Used when nothing else names a region.
    ///   - additionalCredentialsProviders: Providers asked after environment and profile.
    /// - Returns: The configuration.
    /// - Throws: ``EC2ConfigurationError`` when no region is found or an endpoint is not an
    ///   http(s) URL; ``CredentialsError`` when a shared file cannot be read.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        files: SharedConfigFiles? = nil,
        region: String? = nil,
        endpoint: URL? = nil,
        fallbackRegion: String? = nil,
        additionalCredentialsProviders: [any CredentialsProvider] = []
    ) throws -> EC2Configuration {
        let settings = AWSEnvironment(variables: environment, files: files)
        let resolvedRegion = try settings.requireRegion(explicit: region, fallback: fallbackRegion)
        let resolvedEndpoint = try settings.endpoint(for: .ec2, explicit: endpoint)
        let chain = CredentialsProviderChain.standard(environment: environment, files: settings.files,
                                                      additional: additionalCredentialsProviders)
        return EC2Configuration(region: resolvedRegion, endpoint: resolvedEndpoint, credentialsProvider: chain)
    }
}

/// The configuration could not be resolved (no region, bad endpoint).
public struct EC2ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is missing or wrong.
    public var message: String
    /// Creates an error.
    /// - Parameter message: The explanation.
    public init(message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
