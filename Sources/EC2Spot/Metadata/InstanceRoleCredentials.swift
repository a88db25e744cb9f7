import Foundation

/// Temporary credentials of the instance's IAM role, from
/// `/latest/meta-data/iam/security-credentials/<role>`.
///
/// Its `description`, `debugDescription` and mirror never show the secret key or the session
/// token, so the value can be logged or dumped safely.
public struct InstanceRoleCredentials: Sendable, Equatable, CustomStringConvertible,
                                       CustomDebugStringConvertible, CustomReflectable {
    /// The IAM role the credentials belong to.
    public var roleName: String
    /// The access key id (`ASIA…`).
    public var accessKeyId: String
    /// The secret access key. Never logged.
    public var secretAccessKey: String
    /// The session token, sent as `X-Amz-Security-Token`. Never logged.
    public var sessionToken: String
    /// When the credentials expire; refresh well before (IMDS rotates them about five
    /// minutes before this time at the latest).
    public var expiration: Date?

    /// Creates credentials.
    /// - Parameters:
    ///   - roleName: The IAM role name.
    ///   - accessKeyId: The access key id.
    ///   - secretAccessKey: The secret access key.
    ///   - sessionToken: The session token.
    ///   - expiration: When they expire, if known.
    public init(roleName: String, accessKeyId: String, secretAccessKey: String, sessionToken: String,
                expiration: Date?) {
        self.roleName = roleName
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// Decodes the IMDS credentials document
    /// (`{"Code": "Success", "AccessKeyId", "SecretAccessKey", "Token", "Expiration", …}`).
    /// - Parameters:
    ///   - body: The response body.
    ///   - roleName: The role the document belongs to.
    ///   - path: The path it came from, for errors.
    /// - Returns: The credentials.
    /// - Throws: ``IMDSError`` with kind ``IMDSError/Kind/invalidResponse`` when the document
    ///   is not JSON, its `Code` is not `Success`, a key is missing or empty, or `Expiration`
    ///   is not a timestamp. The message never includes the body (it may hold secrets).
    public static func decode(_ body: Data, roleName: String, path: String) throws -> InstanceRoleCredentials {
        struct Document: Decodable {
            var Code: String?
            var AccessKeyId: String?
            var SecretAccessKey: String?
            var Token: String?
            var Expiration: String?
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: body) else {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "instance role credentials are not a JSON object (\(body.count) bytes)")
        }
        if let code = document.Code, code != "Success" {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "instance role credentials have Code '\(code.prefix(60))', not 'Success'")
        }
        guard let keyId = document.AccessKeyId, !keyId.isEmpty,
              let secret = document.SecretAccessKey, !secret.isEmpty,
              let token = document.Token, !token.isEmpty else {
            throw IMDSError(.invalidResponse, status: 200, path: path,
                            message: "instance role credentials lack AccessKeyId, SecretAccessKey or Token")
        }
        var expiration: Date?
        if let text = document.Expiration {
            guard let date = IMDSDate.parse(text) else {
                throw IMDSError(.invalidResponse, status: 200, path: path,
                                message: "instance role credentials have an invalid Expiration '\(text.prefix(64))'")
            }
            expiration = date
        }
        return InstanceRoleCredentials(roleName: roleName, accessKeyId: keyId, secretAccessKey: secret,
                                       sessionToken: token, expiration: expiration)
    }

    /// The role, key id and expiration; secrets redacted.
    public var description: String {
        let expires = expiration.map(IMDSDate.format) ?? "unknown"
        return "InstanceRoleCredentials(role: \(roleName), accessKeyId: \(accessKeyId), secretAccessKey: <redacted>, sessionToken: <redacted>, expiration: \(expires))"
    }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// A mirror with the secrets redacted.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "roleName": roleName, "accessKeyId": accessKeyId, "secretAccessKey": "<redacted>",
            "sessionToken": "<redacted>", "expiration": expiration as Any,
        ])
    }
}
