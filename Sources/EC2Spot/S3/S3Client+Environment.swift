import Foundation

extension S3Client {
    /// Creates a client whose region and endpoint come from the standard AWS settings (see
    /// ``AWSEnvironment``): the endpoint from `endpoint`, else `AWS_ENDPOINT_URL_S3`, else the
    /// profile's `services` entry, else `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`,
    /// else AWS's regional endpoint (with virtual-hosted addressing; custom endpoints use
    /// path-style).
    /// - Parameters:
    ///   - environment: The variables, shared files and profile.
    ///   - region: An explicit region (`--region`).
    ///   - endpoint: An explicit endpoint (`--endpoint`).
    ///   - fallbackRegion: Used when nothing else names a region (for example IMDS's).
    ///   - credentialsProvider: The credentials source.
    ///   - transport: How requests travel.
    ///   - clock: Time and sleeping.
    ///   - retryPolicy: Attempts and backoff.
    /// - Throws: ``EC2ConfigurationError`` when no region is configured or an endpoint is not an
    ///   http(s) URL; ``CredentialsError`` when a shared file cannot be read.
    public init(environment: AWSEnvironment, region: String? = nil, endpoint: URL? = nil, fallbackRegion: String? = nil,
                credentialsProvider: any CredentialsProvider, transport: any HTTPTransport = AsyncHTTPClientTransport.aws(),
                clock: EC2Clock = .system, retryPolicy: RetryPolicy = .standard) throws {
        let resolvedRegion = try environment.requireRegion(explicit: region, fallback: fallbackRegion)
        self.init(region: resolvedRegion, endpoint: try environment.endpoint(for: .s3, explicit: endpoint),
                  credentialsProvider: credentialsProvider, transport: transport, clock: clock, retryPolicy: retryPolicy)
    }
}
