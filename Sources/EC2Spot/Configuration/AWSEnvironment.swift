import Foundation

/// The standard AWS settings of one process, in one place: the environment variables, the
/// shared files and the selected profile, and the rules by which the AWS CLI turns them into
/// a region and an endpoint per service.
///
/// Every client (EC2, S3, STS, Auto Scaling) and the `spottrain` CLI resolve their region
/// and endpoint through this value, so all of them agree. Inject the variables in tests.
///
/// - Region: an explicit region (`--region`), else `AWS_REGION`, else `AWS_DEFAULT_REGION`,
///   else the profile's `region`, else a fallback (for example IMDS's on an instance).
/// - Endpoint of a service: an explicit endpoint (`--endpoint`), else
///   `AWS_ENDPOINT_URL_<SERVICE>` (`_EC2`, `_S3`, `_STS`, `_AUTO_SCALING`), else the
///   service's `endpoint_url` in the profile's `services` section, else `AWS_ENDPOINT_URL`,
///   else the profile's `endpoint_url`, else the service's public endpoint in the region.
///   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` (or `ignore_configured_endpoint_urls = true`
///   in the profile) skips every configured endpoint, as in the AWS CLI.
public struct AWSEnvironment: Sendable {
    /// The environment variables.
    public var variables: [String: String]
    /// The shared credentials and config files.
    public var files: SharedConfigFiles
    /// The selected profile.
    public var profile: String
    /// Whether the profile was chosen explicitly (`--profile`), not by `AWS_PROFILE`. As in
    /// the AWS CLI, an explicit profile makes the credentials chain skip the environment keys.
    public var isProfileExplicit: Bool

    /// Creates the settings.
    /// - Parameters:
    ///   - variables: The environment variables (default: the process's).
    ///   - files: The shared files (default: resolved from `variables`).
    ///   - profile: An explicit profile (`--profile`); nil for `AWS_PROFILE`,
    ///     `AWS_DEFAULT_PROFILE`, else `default`.
    public init(variables: [String: String] = ProcessInfo.processInfo.environment,
                files: SharedConfigFiles? = nil, profile: String? = nil) {
        self.variables = variables
        self.files = files ?? SharedConfigFiles(environment: variables)
        if let profile, !profile.isEmpty {
            self.profile = profile
            isProfileExplicit = true
        } else {
            self.profile = SharedConfigFiles.profileName(environment: variables)
            isProfileExplicit = false
        }
    }

    /// The selected profile's settings (config file overlaid by credentials file).
    /// - Returns: Lowercased keys to values.
    /// - Throws: ``CredentialsError`` when a shared file cannot be read.
    public func profileSettings() throws -> [String: String] {
        try files.settings(profile: profile)
    }

    /// The region, by the rules in the type's summary.
    /// - Parameters:
    ///   - explicit: A region given on the command line; wins over everything.
    ///   - fallback: Used when nothing else names a region.
    /// - Returns: The region, or nil when none is configured anywhere.
    /// - Throws: ``CredentialsError`` when a shared file cannot be read.
    public func region(explicit: String? = nil, fallback: String? = nil) throws -> String? {
        if let region = Self.nonEmpty(explicit) ?? Self.nonEmpty(variables["AWS_REGION"])
            ?? Self.nonEmpty(variables["AWS_DEFAULT_REGION"]) {
            return region
        }
        return Self.nonEmpty(try profileSettings()["region"]) ?? Self.nonEmpty(fallback)
    }

    /// Like ``region(explicit:fallback:)`` but throws when no region is configured.
    /// - Parameters:
    ///   - explicit: A region given on the command line.
    ///   - fallback: Used when nothing else names a region.
    /// - Returns: The region.
    /// - Throws: ``EC2ConfigurationError`` naming every place a region can be set.
    public func requireRegion(explicit: String? = nil, fallback: String? = nil) throws -> String {
        if let region = try region(explicit: explicit, fallback: fallback) { return region }
        throw EC2ConfigurationError(message: "no AWS region: set AWS_REGION, AWS_DEFAULT_REGION, "
            + "the region of profile '\(profile)' in the config file, or pass a region")
    }

    /// The configured endpoint of `service`, by the rules in the type's summary.
    /// - Parameters:
    ///   - service: The service.
    ///   - explicit: An endpoint given on the command line (`--endpoint`); wins over everything.
    /// - Returns: The endpoint, or nil for the service's public endpoint.
    /// - Throws: ``EC2ConfigurationError`` when the chosen value is not an http(s) URL with a
    ///   host (naming the variable or setting it came from); ``CredentialsError`` when a shared
    ///   file cannot be read.
    public func endpoint(for service: AWSService, explicit: URL? = nil) throws -> URL? {
        if let explicit { return try Self.parseEndpoint(explicit.absoluteString, source: "endpoint parameter") }
        let settings = try profileSettings()
        if Self.isTrue(variables["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"])
            || (variables["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] == nil
                && Self.isTrue(settings["ignore_configured_endpoint_urls"])) {
            return nil
        }
        var candidates: [(String, String?)] = [(service.endpointVariable, variables[service.endpointVariable])]
        if let servicesName = Self.nonEmpty(settings["services"]) {
            let section = try files.servicesSection(servicesName)
            candidates.append(("endpoint_url of \(service.configKey) in [services \(servicesName)]",
                               section[service.configKey]?["endpoint_url"]))
        }
        candidates.append(("AWS_ENDPOINT_URL", variables["AWS_ENDPOINT_URL"]))
        candidates.append(("endpoint_url in profile '\(profile)'", settings["endpoint_url"]))
        for (source, value) in candidates {
            if let text = Self.nonEmpty(value) { return try Self.parseEndpoint(text, source: source) }
        }
        return nil
    }

    /// The endpoint of `service` in `region`: the configured one, else the public one.
    /// - Parameters:
    ///   - service: The service.
    ///   - region: The region of the public endpoint.
    ///   - explicit: An endpoint given on the command line.
    /// - Returns: The endpoint URL.
    /// - Throws: As ``endpoint(for:explicit:)``.
    public func resolvedEndpoint(for service: AWSService, region: String, explicit: URL? = nil) throws -> URL {
        if let configured = try endpoint(for: service, explicit: explicit) { return configured }
        return try Self.parseEndpoint(service.defaultEndpoint(region: region), source: "region '\(region)'")
    }

    static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    static func isTrue(_ value: String?) -> Bool {
        value?.trimmingCharacters(in: .whitespaces).lowercased() == "true"
    }

    static func parseEndpoint(_ text: String, source: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw EC2ConfigurationError(message: "\(source) is not an http(s) URL: \(text)")
        }
        return url
    }
}
