import Foundation

/// A source of AWS credentials: the environment, the shared profile files, an instance role….
///
/// A provider returns `nil` when its source is simply not configured (so a chain moves on to
/// the next one) and throws when the source is configured but broken (a half-set key pair,
/// an unreadable file), so misconfiguration is reported instead of silently skipped.
/// Providers that fetch temporary credentials should cache them until shortly before expiry.
public protocol CredentialsProvider: Sendable {
    /// A short name for messages, for example `"environment"`.
    var name: String { get }

    /// Returns credentials, or nil if this source is not configured.
    /// - Throws: ``CredentialsError`` (or a source-specific error) if it is configured but unusable.
    func credentials() async throws -> AWSCredentials?
}

/// Why credentials could not be obtained. Never contains a secret.
public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The provider (or `"chain"`) that failed.
    public var provider: String
    /// What went wrong.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - provider: The provider name.
    ///   - message: The explanation (must not contain secrets).
    public init(provider: String, message: String) {
        self.provider = provider
        self.message = message
    }

    /// `"<provider>: <message>"`.
    public var description: String { "\(provider): \(message)" }
}

/// Fixed credentials, for tests and for callers that obtained keys themselves.
public struct StaticCredentialsProvider: CredentialsProvider {
    /// `"static"`.
    public var name: String { "static" }
    /// The credentials returned.
    public var fixed: AWSCredentials

    /// Creates a provider that always returns `credentials`.
    /// - Parameter credentials: The credentials.
    public init(_ credentials: AWSCredentials) { fixed = credentials }

    /// Returns the fixed credentials.
    /// - Returns: The credentials.
    public func credentials() async throws -> AWSCredentials? { fixed }
}

/// Asks its providers in order and returns the first credentials found.
///
/// The default order (``standard(options:)``) is the AWS CLI's: environment, assume-role,
/// web identity, SSO (refused), shared credentials file, `credential_process`, config file,
/// container endpoint, instance role.
public struct CredentialsProviderChain: CredentialsProvider {
    /// `"chain"`.
    public var name: String { "chain" }
    /// The providers, asked in this order.
    public var providers: [any CredentialsProvider]

    /// Creates a chain.
    /// - Parameter providers: The providers, first asked first.
    public init(_ providers: [any CredentialsProvider]) {
        self.providers = providers
    }

    /// The AWS CLI's default chain (see ``standard(options:)``) over the process's HTTP
    /// transport, followed by `additional` (for example an instance-role provider).
    /// - Parameters:
    ///   - environment: The environment variables to read.
    ///   - files: The shared credentials and config files.
    ///   - additional: Providers asked after the built-in ones.
    /// - Returns: The chain.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment,
                                files: SharedConfigFiles? = nil,
                                additional: [any CredentialsProvider] = []) -> CredentialsProviderChain {
        let options = CredentialsChainOptions(environment: AWSEnvironment(variables: environment, files: files),
                                              transport: AsyncHTTPClientTransport.aws(environment: environment))
        return CredentialsProviderChain(standard(options: options).providers + additional)
    }

    /// Returns a new chain with `provider` asked last.
    /// - Parameter provider: The provider to append.
    /// - Returns: The longer chain.
    public func appending(_ provider: any CredentialsProvider) -> CredentialsProviderChain {
        CredentialsProviderChain(providers + [provider])
    }

    /// The first credentials any provider returns.
    /// - Returns: Credentials, or nil when no provider has any.
    /// - Throws: The first provider error encountered.
    public func credentials() async throws -> AWSCredentials? {
        for provider in providers {
            if let credentials = try await provider.credentials() { return credentials }
        }
        return nil
    }

    /// Like ``credentials()`` but throws when nothing is configured.
    /// - Returns: Credentials.
    /// - Throws: ``CredentialsError`` naming the sources tried.
    public func requireCredentials() async throws -> AWSCredentials {
        if let credentials = try await credentials() { return credentials }
        throw CredentialsError(provider: name, message: "no AWS credentials found (tried: "
            + providers.map(\.name).joined(separator: ", ") + ")")
    }
}
