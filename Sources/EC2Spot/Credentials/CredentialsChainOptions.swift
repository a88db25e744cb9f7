import Foundation

/// What the standard credentials chain needs besides the environment: how to reach STS and
/// the container endpoint, the instance-role provider, and bounds for `credential_process`.
public struct CredentialsChainOptions: Sendable {
    /// The variables, shared files and profile.
    public var environment: AWSEnvironment
    /// How STS and container requests travel.
    public var transport: any HTTPTransport
    /// Time and sleeping (signing dates, retries, cache expiry).
    public var clock: EC2Clock
    /// The region of STS requests (nil: the region resolved from `environment`, else the
    /// global endpoint).
    public var stsRegion: String?
    /// Attempts per STS request.
    public var stsRetryPolicy: RetryPolicy
    /// Where `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` points (tests inject a loopback server).
    public var containerRelativeBase: URL
    /// The instance-role provider, asked last and used for `credential_source =
    /// Ec2InstanceMetadata` (nil: none, for example off EC2 or in tests).
    public var instanceRole: (any CredentialsProvider)?
    /// How long a `credential_process` may run.
    public var processTimeout: Duration

    /// Creates options.
    /// - Parameters:
    ///   - environment: The variables, shared files and profile.
    ///   - transport: How STS and container requests travel.
    ///   - clock: Time and sleeping.
    ///   - stsRegion: The STS region (nil: from `environment`).
    ///   - stsRetryPolicy: Attempts per STS request.
    ///   - containerRelativeBase: The base of a relative container URI.
    ///   - instanceRole: The instance-role provider, if any.
    ///   - processTimeout: The `credential_process` time limit.
    public init(environment: AWSEnvironment, transport: any HTTPTransport, clock: EC2Clock = .system,
                stsRegion: String? = nil, stsRetryPolicy: RetryPolicy = .standard,
                containerRelativeBase: URL = ContainerCredentialsProvider.defaultRelativeBase,
                instanceRole: (any CredentialsProvider)? = nil, processTimeout: Duration = .seconds(60)) {
        self.environment = environment
        self.transport = transport
        self.clock = clock
        self.stsRegion = stsRegion
        self.stsRetryPolicy = stsRetryPolicy
        self.containerRelativeBase = containerRelativeBase
        self.instanceRole = instanceRole
        self.processTimeout = processTimeout
    }

    /// The STS client: region `stsRegion`, else the environment's; endpoint
    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the profile's, else the public one.
    /// - Returns: The client.
    /// - Throws: ``EC2ConfigurationError`` for a malformed endpoint; ``CredentialsError`` for
    ///   unreadable shared files.
    public func makeSTSClient() throws -> STSClient {
        let region = try AWSEnvironment.nonEmpty(stsRegion) ?? environment.region()
        return STSClient(region: region, endpoint: try environment.endpoint(for: .sts), transport: transport,
                         clock: clock, retryPolicy: stsRetryPolicy)
    }

    /// The container provider these options describe.
    /// - Returns: The provider.
    public func makeContainerProvider() -> ContainerCredentialsProvider {
        ContainerCredentialsProvider(environment: environment.variables, transport: transport,
                                     relativeBase: containerRelativeBase, clock: clock)
    }

    /// The providers that read one profile, in the CLI's order: web identity, SSO (refused
    /// with an explanation), the credentials file's keys, `credential_process`, the config
    /// file's keys.
    /// - Parameters:
    ///   - profile: The profile.
    ///   - readsEnvironmentVariables: Whether web identity may read `AWS_WEB_IDENTITY_TOKEN_FILE`.
    /// - Returns: The providers.
    public func profileProviders(profile: String, readsEnvironmentVariables: Bool) -> [any CredentialsProvider] {
        let files = environment.files
        let options = self
        return [
            WebIdentityCredentialsProvider(environment: environment, profile: profile,
                                           readsEnvironmentVariables: readsEnvironmentVariables,
                                           makeSTS: { try options.makeSTSClient() },
                                           cache: TemporaryCredentialsCache(now: clock.now)),
            SSOProfileCredentialsProvider(files: files, profile: profile),
            ProfileCredentialsProvider(files: SharedConfigFiles(credentialsPath: files.credentialsPath, configPath: nil),
                                       profile: profile),
            ProcessCredentialsProvider(files: files, profile: profile, environment: environment.variables,
                                       timeout: processTimeout, cache: TemporaryCredentialsCache(now: clock.now)),
            ProfileCredentialsProvider(files: SharedConfigFiles(credentialsPath: nil, configPath: files.configPath),
                                       profile: profile),
        ]
    }
}

extension CredentialsProviderChain {
    /// The AWS CLI's default chain:
    /// 1. the environment (`AWS_ACCESS_KEY_ID`, …), skipped for a profile chosen with `--profile`;
    /// 2. assume-role (the profile's `role_arn` with `source_profile` or `credential_source`);
    /// 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` or the profile's `web_identity_token_file`);
    /// 4. SSO: refused with an explanation naming the profile;
    /// 5. the credentials file's keys; 6. `credential_process`; 7. the config file's keys;
    /// 8. the container endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`);
    /// 9. the instance role (``CredentialsChainOptions/instanceRole``), if given.
    /// - Parameter options: The environment, transport and the rest.
    /// - Returns: The chain.
    public static func standard(options: CredentialsChainOptions) -> CredentialsProviderChain {
        let environment = options.environment
        var providers: [any CredentialsProvider] = []
        if !environment.isProfileExplicit {
            providers.append(EnvironmentCredentialsProvider(environment: environment.variables))
        }
        providers.append(ProfileRoleCredentialsProvider(options: options, profile: environment.profile))
        providers += options.profileProviders(profile: environment.profile, readsEnvironmentVariables: !environment.isProfileExplicit)
        providers.append(options.makeContainerProvider())
        if let instanceRole = options.instanceRole { providers.append(instanceRole) }
        return CredentialsProviderChain(providers)
    }
}
