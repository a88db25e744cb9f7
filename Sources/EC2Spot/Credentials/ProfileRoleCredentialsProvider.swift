import Foundation

/// The assume-role link of the standard chain: when the profile names a `role_arn` (and no
/// `web_identity_token_file`), assumes that role with STS, as the AWS CLI does.
///
/// The source credentials come from exactly one of
/// - `source_profile`: that profile's own credentials (web identity, credentials file,
///   `credential_process`, config file; never the environment), or, when it names a
///   `role_arn` itself, that role (role chaining). A profile may name itself as its source
///   when it also holds static keys; any other cycle is an error;
/// - `credential_source`: `Environment`, `EcsContainer` or `Ec2InstanceMetadata`.
///
/// `role_session_name`, `external_id` and `duration_seconds` are passed on. A profile with
/// `mfa_serial` is refused (spottrain cannot prompt for a code). The configuration is read when
/// credentials are first asked for; the resulting provider (and its cache) is kept.
public actor ProfileRoleCredentialsProvider: CredentialsProvider {
    /// `"assume-role"`.
    public nonisolated var name: String { "assume-role" }
    /// The options the chain was built from.
    public nonisolated let options: CredentialsChainOptions
    /// The profile read.
    public nonisolated let profile: String

    private var resolved: (any CredentialsProvider)?

    /// Creates the link.
    /// - Parameters:
    ///   - options: The environment, transport and the rest.
    ///   - profile: The profile whose `role_arn` is assumed.
    public init(options: CredentialsChainOptions, profile: String) {
        self.options = options
        self.profile = profile
    }

    /// The role's credentials, or nil when the profile names no role.
    /// - Returns: Credentials or nil.
    /// - Throws: ``CredentialsError`` for an inconsistent role configuration (both or neither
    ///   of `source_profile`/`credential_source`, a missing or cyclic source profile, an unknown
    ///   credential source, `mfa_serial`), a source without credentials, or an STS refusal.
    public func credentials() async throws -> AWSCredentials? {
        if let resolved { return try await resolved.credentials() }
        let settings = try options.environment.files.settings(profile: profile)
        guard Self.hasRole(settings) else { return nil }
        let provider = try makeRoleProvider(profile: profile, visited: [profile])
        resolved = provider
        return try await provider.credentials()
    }

    static func hasRole(_ settings: [String: String]) -> Bool {
        AWSEnvironment.nonEmpty(settings["role_arn"]) != nil && settings["web_identity_token_file"] == nil
    }

    static func hasStaticKeys(_ settings: [String: String]) -> Bool {
        settings["aws_access_key_id"] != nil || settings["aws_secret_access_key"] != nil
    }

    private func fail(_ message: String) -> CredentialsError {
        CredentialsError(provider: name, message: message)
    }

    private func makeRoleProvider(profile: String, visited: [String]) throws -> AssumeRoleCredentialsProvider {
        let files = options.environment.files
        let settings = try files.settings(profile: profile)
        guard let roleArn = AWSEnvironment.nonEmpty(settings["role_arn"]) else {
            throw fail("profile '\(profile)' has no role_arn")
        }
        if settings["mfa_serial"] != nil {
            throw fail("profile '\(profile)' needs an MFA code (mfa_serial), which spottrain cannot prompt for; "
                + "export credentials instead, for example "
                + "eval \"$(aws configure export-credentials --profile \(profile) --format env)\"")
        }
        let sourceProfile = AWSEnvironment.nonEmpty(settings["source_profile"])
        let credentialSource = AWSEnvironment.nonEmpty(settings["credential_source"])
        let source: any CredentialsProvider
        switch (sourceProfile, credentialSource) {
        case (.some, .some):
            throw fail("profile '\(profile)' contains both source_profile and credential_source")
        case (nil, nil):
            throw fail("profile '\(profile)' has role_arn but neither source_profile nor credential_source")
        case (nil, .some(let named)):
            source = try namedSource(named, profile: profile)
        case (.some(let sourceName), nil):
            source = try sourceProvider(sourceName, parent: profile, visited: visited)
        }
        var duration: Int?
        if let text = AWSEnvironment.nonEmpty(settings["duration_seconds"]) {
            guard let seconds = Int(text), seconds > 0 else {
                throw fail("duration_seconds of profile '\(profile)' is not a positive integer: \(text)")
            }
            duration = seconds
        }
        return AssumeRoleCredentialsProvider(
            roleArn: roleArn, sessionName: settings["role_session_name"], externalId: settings["external_id"],
            durationSeconds: duration, source: source, sts: try options.makeSTSClient(),
            cache: TemporaryCredentialsCache(now: options.clock.now))
    }

    private func namedSource(_ named: String, profile: String) throws -> any CredentialsProvider {
        switch named {
        case "Environment":
            return EnvironmentCredentialsProvider(environment: options.environment.variables)
        case "EcsContainer":
            return options.makeContainerProvider()
        case "Ec2InstanceMetadata":
            guard let instanceRole = options.instanceRole else {
                throw fail("credential_source Ec2InstanceMetadata of profile '\(profile)' is not available here")
            }
            return instanceRole
        default:
            throw fail("credential_source '\(named)' of profile '\(profile)' is not one of "
                + "Environment, EcsContainer, Ec2InstanceMetadata")
        }
    }

    private func sourceProvider(_ source: String, parent: String, visited: [String]) throws -> any CredentialsProvider {
        let files = options.environment.files
        guard try files.profileExists(source) else {
            throw fail("the source_profile '\(source)' of profile '\(parent)' does not exist")
        }
        let settings = try files.settings(profile: source)
        if visited.contains(source) {
            // A profile may source itself when it holds static keys; any other loop is an error.
            guard source == parent, Self.hasStaticKeys(settings) else {
                throw fail("source_profile loop: " + (visited + [source]).joined(separator: " -> "))
            }
        }
        if Self.hasStaticKeys(settings) || !Self.hasRole(settings) {
            let chain = CredentialsProviderChain(options.profileProviders(profile: source, readsEnvironmentVariables: false))
            return SourceProfileCredentialsProvider(profile: source, chain: chain)
        }
        return try makeRoleProvider(profile: source, visited: visited + [source])
    }
}

/// A source profile's own credentials, required to exist.
struct SourceProfileCredentialsProvider: CredentialsProvider {
    var profile: String
    var chain: CredentialsProviderChain
    var name: String { "source profile \(profile)" }

    func credentials() async throws -> AWSCredentials? {
        guard let credentials = try await chain.credentials() else {
            throw CredentialsError(provider: name, message: "the source profile '\(profile)' has no credentials")
        }
        return credentials
    }
}
