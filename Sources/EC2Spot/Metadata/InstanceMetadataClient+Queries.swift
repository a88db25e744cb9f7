import Foundation

extension InstanceMetadataClient {
    /// The metadata paths this client reads.
    public enum Path {
        /// `/latest/meta-data/instance-id`.
        public static let instanceID = "/latest/meta-data/instance-id"
        /// `/latest/meta-data/placement/availability-zone`.
        public static let availabilityZone = "/latest/meta-data/placement/availability-zone"
        /// `/latest/meta-data/placement/region`.
        public static let region = "/latest/meta-data/placement/region"
        /// `/latest/meta-data/spot/instance-action` (404 while no interruption is scheduled).
        public static let spotInstanceAction = "/latest/meta-data/spot/instance-action"
        /// `/latest/meta-data/events/recommendations/rebalance` (404 while there is none).
        public static let rebalanceRecommendation = "/latest/meta-data/events/recommendations/rebalance"
        /// `/latest/meta-data/iam/security-credentials/` (the role name).
        public static let securityCredentials = "/latest/meta-data/iam/security-credentials/"
    }

    /// The id of this instance, for example `i-0123456789abcdef0`.
    /// - Returns: The instance id.
    /// - Throws: ``IMDSError``.
    public func instanceID() async throws -> String {
        try await text(Path.instanceID)
    }

    /// The Availability Zone of this instance, for example `us-east-1a`.
    /// - Returns: The zone name.
    /// - Throws: ``IMDSError``.
    public func availabilityZone() async throws -> String {
        try await text(Path.availabilityZone)
    }

    /// The Region of this instance, for example `us-east-1`.
    /// - Returns: The region name.
    /// - Throws: ``IMDSError``.
    public func region() async throws -> String {
        try await text(Path.region)
    }

    /// The scheduled spot interruption, if any.
    ///
    /// Any HTTP 200 is a notice, even when the document cannot be fully read (see
    /// ``SpotInstanceAction/decode(_:path:receivedAt:)``: the action defaults to terminate,
    /// an unreadable time to the moment of receipt, with ``SpotInstanceAction/warnings``).
    /// - Returns: The action and its time, or `nil` when nothing is scheduled (404).
    /// - Throws: ``IMDSError`` when no 200 or 404 answer arrived.
    public func spotInstanceAction() async throws -> SpotInstanceAction? {
        guard let body = try await fetch(Path.spotInstanceAction) else { return nil }
        return SpotInstanceAction.decode(body, path: Path.spotInstanceAction, receivedAt: now())
    }

    /// The current rebalance recommendation, if any.
    ///
    /// Any HTTP 200 is a recommendation, even when its `noticeTime` cannot be read.
    /// - Returns: The recommendation, or `nil` when there is none (404).
    /// - Throws: ``IMDSError`` when no 200 or 404 answer arrived.
    public func rebalanceRecommendation() async throws -> RebalanceRecommendation? {
        guard let body = try await fetch(Path.rebalanceRecommendation) else { return nil }
        return RebalanceRecommendation.decode(body, path: Path.rebalanceRecommendation, receivedAt: now())
    }

    /// The name of the IAM role attached to this instance (the first line of
    /// `iam/security-credentials/`).
    /// - Returns: The role name.
    /// - Throws: ``IMDSError`` (``IMDSError/Kind/notFound`` when no role is attached,
    ///   ``IMDSError/Kind/invalidResponse`` for a name with characters IAM does not allow).
    public func instanceRoleName() async throws -> String {
        let listing = try await text(Path.securityCredentials)
        let name = listing.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard Self.isValidRoleName(name) else {
            throw IMDSError(.invalidResponse, status: 200, path: Path.securityCredentials,
                            message: "role name '\(name.prefix(64))' is not a valid IAM role name")
        }
        return name
    }

    /// The temporary credentials of the instance's IAM role.
    /// - Parameter role: The role name; `nil` to look it up with ``instanceRoleName()``.
    /// - Returns: The credentials (secrets redacted in their description).
    /// - Throws: ``IMDSError``; messages never contain the secrets.
    public func instanceRoleCredentials(role: String? = nil) async throws -> InstanceRoleCredentials {
        let name: String
        if let role {
            precondition(Self.isValidRoleName(role), "'\(role)' is not a valid IAM role name")
            name = role
        } else {
            name = try await instanceRoleName()
        }
        let path = Path.securityCredentials + name
        guard let body = try await fetch(path) else {
            throw IMDSError(.notFound, status: 404, path: path, message: "no credentials for role '\(name)'")
        }
        return try InstanceRoleCredentials.decode(body, roleName: name, path: path)
    }

    /// Whether `name` uses only the characters IAM allows in role names (`[A-Za-z0-9+=,.@_-]`,
    /// 1…64 characters), so it is safe to put in a path.
    static func isValidRoleName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return "+=,.@_-".utf8.contains(byte)
            }
        }
    }
}
