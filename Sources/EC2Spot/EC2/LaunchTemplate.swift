import Foundation

/// A launch template as `CreateLaunchTemplate` / `DescribeLaunchTemplates` report it.
public struct LaunchTemplate: Sendable, Hashable {
    /// The id, `lt-…`.
    public var launchTemplateId: String
    /// The name.
    public var launchTemplateName: String
    /// The number of the default version.
    public var defaultVersionNumber: Int?
    /// The number of the newest version.
    public var latestVersionNumber: Int?
    /// When it was created.
    public var createTime: Date?
    /// The template's own tags.
    public var tags: [Tag]

    /// Creates a template description (for tests and fakes).
    /// - Parameters:
    ///   - launchTemplateId: The id.
    ///   - launchTemplateName: The name.
    ///   - defaultVersionNumber: The default version.
    ///   - latestVersionNumber: The newest version.
    ///   - createTime: The creation time.
    ///   - tags: The tags.
    public init(launchTemplateId: String, launchTemplateName: String, defaultVersionNumber: Int? = nil,
                latestVersionNumber: Int? = nil, createTime: Date? = nil, tags: [Tag] = []) {
        self.launchTemplateId = launchTemplateId
        self.launchTemplateName = launchTemplateName
        self.defaultVersionNumber = defaultVersionNumber
        self.latestVersionNumber = latestVersionNumber
        self.createTime = createTime
        self.tags = tags
    }
}

/// What instances launched from a template get (`LaunchTemplateData`). The instance type and
/// subnet are left out on purpose: an Auto Scaling group's mixed-instances policy chooses them.
public struct LaunchTemplateData: Sendable, Hashable {
    /// The AMI id.
    public var imageId: String?
    /// The instance profile (role) the instances run as.
    public var iamInstanceProfile: RunInstancesRequest.IAMInstanceProfile?
    /// The key pair for SSH.
    public var keyName: String?
    /// The security groups (ids, `sg-…`).
    public var securityGroupIds: [String]
    /// The user data as text (base64-encoded on the wire; AWS caps the encoded form at 16 KiB).
    public var userData: String?
    /// The instance metadata options (IMDSv2 required by default).
    public var metadataOptions: RunInstancesRequest.MetadataOptions?
    /// Tags applied to the resources launched from the template (`instance`, `volume`, …).
    public var tagSpecifications: [TagSpecification]
    /// What `shutdown` on the instance does.
    public var instanceInitiatedShutdownBehavior: RunInstancesRequest.ShutdownBehavior?
    /// An instance type (nil when the group's overrides choose it).
    public var instanceType: String?

    /// Creates template data.
    /// - Parameters:
    ///   - imageId: The AMI.
    ///   - iamInstanceProfile: The instance profile, by name or ARN.
    ///   - keyName: The key pair.
    ///   - securityGroupIds: The security groups.
    ///   - userData: The user data as text.
    ///   - metadataOptions: The metadata options (default: IMDSv2 required, endpoint on,
    ///     hop limit 2 so containers on the instance reach it).
    ///   - tagSpecifications: Tags for launched resources.
    ///   - instanceInitiatedShutdownBehavior: What `shutdown` does.
    ///   - instanceType: An instance type, or nil.
    public init(imageId: String? = nil, iamInstanceProfile: RunInstancesRequest.IAMInstanceProfile? = nil,
                keyName: String? = nil, securityGroupIds: [String] = [], userData: String? = nil,
                metadataOptions: RunInstancesRequest.MetadataOptions? = .init(httpTokens: .required, hopLimit: 2),
                tagSpecifications: [TagSpecification] = [],
                instanceInitiatedShutdownBehavior: RunInstancesRequest.ShutdownBehavior? = nil,
                instanceType: String? = nil) {
        self.imageId = imageId
        self.iamInstanceProfile = iamInstanceProfile
        self.keyName = keyName
        self.securityGroupIds = securityGroupIds
        self.userData = userData
        self.metadataOptions = metadataOptions
        self.tagSpecifications = tagSpecifications
        self.instanceInitiatedShutdownBehavior = instanceInitiatedShutdownBehavior
        self.instanceType = instanceType
    }
}

/// What `CreateLaunchTemplate` creates.
public struct CreateLaunchTemplateRequest: Sendable, Hashable {
    /// The name (unique in the account and region; 3–128 characters of `[a-zA-Z0-9()./_-]`).
    public var launchTemplateName: String
    /// The data of version 1.
    public var launchTemplateData: LaunchTemplateData
    /// A description of version 1.
    public var versionDescription: String?
    /// Tags of the template itself (sent as a `launch-template` tag specification).
    public var tags: [Tag]
    /// An idempotency token.
    public var clientToken: String?

    /// Creates a request.
    /// - Parameters:
    ///   - launchTemplateName: The name; must not be empty.
    ///   - launchTemplateData: The data.
    ///   - versionDescription: A description.
    ///   - tags: The template's own tags.
    ///   - clientToken: An idempotency token.
    public init(launchTemplateName: String, launchTemplateData: LaunchTemplateData, versionDescription: String? = nil,
                tags: [Tag] = [], clientToken: String? = nil) {
        precondition(!launchTemplateName.isEmpty, "CreateLaunchTemplateRequest: empty template name")
        self.launchTemplateName = launchTemplateName
        self.launchTemplateData = launchTemplateData
        self.versionDescription = versionDescription
        self.tags = tags
        self.clientToken = clientToken
    }
}

/// One version of a launch template with its data (`DescribeLaunchTemplateVersions`).
public struct LaunchTemplateVersion: Sendable, Hashable {
    /// The template's id.
    public var launchTemplateId: String
    /// The template's name.
    public var launchTemplateName: String
    /// The version number.
    public var versionNumber: Int
    /// Whether this is the default version.
    public var isDefaultVersion: Bool
    /// The data, with ``LaunchTemplateData/userData`` decoded from base64 (nil if it was not
    /// valid base64 UTF-8).
    public var launchTemplateData: LaunchTemplateData

    /// Creates a version record.
    /// - Parameters:
    ///   - launchTemplateId: The template id.
    ///   - launchTemplateName: The template name.
    ///   - versionNumber: The version.
    ///   - isDefaultVersion: Whether it is the default.
    ///   - launchTemplateData: The data.
    public init(launchTemplateId: String, launchTemplateName: String, versionNumber: Int, isDefaultVersion: Bool,
                launchTemplateData: LaunchTemplateData) {
        self.launchTemplateId = launchTemplateId
        self.launchTemplateName = launchTemplateName
        self.versionNumber = versionNumber
        self.isDefaultVersion = isDefaultVersion
        self.launchTemplateData = launchTemplateData
    }
}
