import Foundation

/// Credentials printed by the profile's `credential_process` command, as the AWS CLI runs it.
///
/// The command is split like a POSIX shell line and run without a shell, with the process's
/// environment. It must exit 0 and print JSON: `{"Version": 1, "AccessKeyId": …,
/// "SecretAccessKey": …, "SessionToken": …, "Expiration": "2026-11-29T12:00:00Z"}`
/// (`SessionToken` and `Expiration` optional). Credentials with an `Expiration` are cached and
/// the command runs again shortly before they expire; without one they are kept for good.
///
/// Unlike the CLI, the run is bounded: the command is killed after ``timeout`` or when it
/// writes more than ``outputLimit`` bytes. No error quotes standard output (it holds the
/// secret); a failed command's error quotes the start of its standard error.
public struct ProcessCredentialsProvider: CredentialsProvider {
    /// `"credential-process"`.
    public var name: String { "credential-process" }
    /// The shared files.
    public var files: SharedConfigFiles
    /// The profile whose `credential_process` runs.
    public var profile: String
    /// The command's environment.
    public var environment: [String: String]
    /// How long the command may run.
    public var timeout: Duration
    /// The most bytes of standard output accepted.
    public var outputLimit: Int
    /// The cache of the credentials.
    public let cache: TemporaryCredentialsCache

    /// Creates a provider.
    /// - Parameters:
    ///   - files: The shared files.
    ///   - profile: The profile.
    ///   - environment: The command's environment (default: the process's).
    ///   - timeout: How long the command may run (default one minute); must be positive.
    ///   - outputLimit: The most bytes of standard output accepted (default 64 KiB); ≥ 1.
    ///   - cache: The cache (default: a new one).
    public init(files: SharedConfigFiles, profile: String,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                timeout: Duration = .seconds(60), outputLimit: Int = 64 * 1024,
                cache: TemporaryCredentialsCache = .init()) {
        precondition(timeout > .zero, "ProcessCredentialsProvider: timeout \(timeout) must be positive")
        precondition(outputLimit >= 1, "ProcessCredentialsProvider: outputLimit \(outputLimit) < 1")
        self.files = files
        self.profile = profile
        self.environment = environment
        self.timeout = timeout
        self.outputLimit = outputLimit
        self.cache = cache
    }

    /// Runs the command (or returns cached credentials), or nil when the profile has no
    /// `credential_process`.
    /// - Returns: Credentials or nil.
    /// - Throws: ``CredentialsError`` when the command cannot be split, found or started,
    ///   times out, writes too much, exits non-zero, or prints something other than version-1
    ///   credentials JSON; `CancellationError`.
    public func credentials() async throws -> AWSCredentials? {
        guard let command = AWSEnvironment.nonEmpty(try files.settings(profile: profile)["credential_process"]) else {
            return nil
        }
        let provider = self
        return try await cache.credentials { try await provider.run(command) }
    }

    /// Splits a `credential_process` line into words the way the AWS CLI does (Python's
    /// `shlex.split`, POSIX mode: quotes and backslashes, no comments, no expansion).
    /// - Parameter command: The command line.
    /// - Returns: The program followed by its arguments.
    /// - Throws: ``CredentialsError`` for an unclosed quote or a trailing backslash.
    public static func splitCommand(_ command: String) throws -> [String] {
        try CredentialProcess.split(command)
    }

    private func run(_ command: String) async throws -> AWSCredentials {
        let arguments = try CredentialProcess.split(command)
        guard let program = arguments.first else {
            throw CredentialsError(provider: name, message: "credential_process of profile '\(profile)' is empty")
        }
        let output = try await CredentialProcess.run(arguments, environment: environment, timeout: timeout,
                                                     outputLimit: outputLimit)
        func fail(_ reason: String) -> CredentialsError {
            CredentialsError(provider: name, message: "credential_process '\(program)' of profile '\(profile)' \(reason)")
        }
        guard output.status == 0 else {
            let excerpt = String(decoding: output.standardError, as: UTF8.self)
                .split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            throw fail("exited with status \(output.status)" + (excerpt.isEmpty ? "" : ": " + excerpt))
        }
        return try Self.decode(output.standardOutput, fail: fail)
    }

    /// Decodes the version-1 JSON document (never quoting it).
    static func decode(_ data: Data, fail: (String) -> CredentialsError) throws -> AWSCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("did not print a JSON object")
        }
        guard let version = object["Version"] as? NSNumber, version.doubleValue == 1 else {
            let shown = object["Version"].map { value in
                if let number = value as? NSNumber { return number.stringValue }
                return "a non-number"
            } ?? "none"
            throw fail("printed Version \(shown); only Version 1 is supported")
        }
        guard let keyId = object["AccessKeyId"] as? String, !keyId.isEmpty else {
            throw fail("printed no AccessKeyId")
        }
        guard let secret = object["SecretAccessKey"] as? String, !secret.isEmpty else {
            throw fail("printed no SecretAccessKey")
        }
        var token: String?
        if let value = object["SessionToken"], !(value is NSNull) {
            guard let text = value as? String else { throw fail("printed a SessionToken that is not a string") }
            token = text
        }
        var expiration: Date?
        if let value = object["Expiration"], !(value is NSNull) {
            guard let text = value as? String, let date = IMDSDate.parse(text) else {
                throw fail("printed an Expiration that is not an ISO 8601 time")
            }
            expiration = date
        }
        return AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token, expiration: expiration)
    }
}
