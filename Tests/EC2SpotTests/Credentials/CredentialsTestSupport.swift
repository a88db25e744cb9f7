import EC2Spot
import Foundation

/// A scratch directory for shared files, token files and credential_process scripts.
final class CredentialsScratch: @unchecked Sendable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ec2spot-creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        if executable {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        return url.path
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Files at `credentials` and `config` in the scratch directory (written when given).
    func files(credentials: String? = nil, config: String? = nil) throws -> SharedConfigFiles {
        if let credentials { try write("credentials", credentials) }
        if let config { try write("config", config) }
        return SharedConfigFiles(credentialsPath: path("credentials"), configPath: path("config"))
    }
}

/// A clock the test moves by hand.
final class ManualTime: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }

    var clock: EC2Clock {
        EC2Clock(now: { [self] in now }, sleep: { [self] duration in
            let parts = duration.components
            advance(Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
        })
    }
}

enum STSFixtures {
    static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    /// A successful `<ActionResponse>` with these credentials.
    static func success(_ action: String, keyId: String, secret: String, token: String, expiration: Date) -> String {
        """
        <\(action)Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <\(action)Result>
            <Credentials>
              <AccessKeyId>\(keyId)</AccessKeyId>
              <SecretAccessKey>\(secret)</SecretAccessKey>
              <SessionToken>\(token)</SessionToken>
              <Expiration>\(iso(expiration))</Expiration>
            </Credentials>
            <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>
          </\(action)Result>
          <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
        </\(action)Response>
        """
    }

    static func error(code: String, message: String) -> String {
        """
        <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <Error><Type>Sender</Type><Code>\(code)</Code><Message>\(message)</Message></Error>
          <RequestId>req-err</RequestId>
        </ErrorResponse>
        """
    }
}
