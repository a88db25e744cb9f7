import Foundation

/// An EBS volume as `DescribeVolumes` / `CreateVolume` report it.
public struct Volume: Sendable, Hashable {
    /// The id, `vol-…`.
    public var volumeId: String
    /// The size in GiB.
    public var sizeGiB: Int
    /// The volume type, for example `gp3`.
    public var volumeType: String
    /// The lifecycle state.
    public var state: VolumeState
    /// The Availability Zone, for example `us-east-1a`.
    public var availabilityZone: String
    /// The attachments (at most one unless multi-attach is enabled).
    public var attachments: [VolumeAttachment]
    /// The tags.
    public var tags: [Tag]
    /// The snapshot the volume was created from, if any.
    public var snapshotId: String?
    /// Whether the volume is encrypted.
    public var encrypted: Bool
    /// When it was created, if reported.
    public var createTime: Date?

    /// Creates a volume description (mostly for tests and fakes).
    /// - Parameters:
    ///   - volumeId: The id.
    ///   - sizeGiB: The size in GiB.
    ///   - volumeType: The volume type.
    ///   - state: The state.
    ///   - availabilityZone: The Availability Zone.
    ///   - attachments: The attachments.
    ///   - tags: The tags.
    ///   - snapshotId: The source snapshot.
    ///   - encrypted: Whether it is encrypted.
    ///   - createTime: The creation time.
    public init(volumeId: String, sizeGiB: Int, volumeType: String, state: VolumeState, availabilityZone: String,
                attachments: [VolumeAttachment] = [], tags: [Tag] = [], snapshotId: String? = nil,
                encrypted: Bool = false, createTime: Date? = nil) {
        self.volumeId = volumeId
        self.sizeGiB = sizeGiB
        self.volumeType = volumeType
        self.state = state
        self.availabilityZone = availabilityZone
        self.attachments = attachments
        self.tags = tags
        self.snapshotId = snapshotId
        self.encrypted = encrypted
        self.createTime = createTime
    }

    /// The attachment to `instanceId`, if any.
    /// - Parameter instanceId: The instance id.
    /// - Returns: The attachment record.
    public func attachment(to instanceId: String) -> VolumeAttachment? {
        attachments.first { $0.instanceId == instanceId }
    }
}

/// A volume's lifecycle state (`creating`, `available`, `in-use`, `deleting`, `deleted`, `error`).
///
/// A struct rather than an enum so that a state AWS adds later still decodes.
public struct VolumeState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The state as EC2 spells it.
    public var rawValue: String
    /// Creates a state from EC2's spelling.
    /// - Parameter rawValue: The state string.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Being created.
    public static let creating = VolumeState(rawValue: "creating")
    /// Ready and not attached.
    public static let available = VolumeState(rawValue: "available")
    /// Attached to an instance.
    public static let inUse = VolumeState(rawValue: "in-use")
    /// Being deleted.
    public static let deleting = VolumeState(rawValue: "deleting")
    /// Deleted.
    public static let deleted = VolumeState(rawValue: "deleted")
    /// Failed; the data may be lost.
    public static let error = VolumeState(rawValue: "error")
    /// The raw value.
    public var description: String { rawValue }
}

/// One attachment of a volume to an instance, also the result of AttachVolume and DetachVolume.
public struct VolumeAttachment: Sendable, Hashable {
    /// The volume id.
    public var volumeId: String
    /// The instance id.
    public var instanceId: String
    /// The device name, for example `/dev/xvdb`.
    public var device: String
    /// The attachment state.
    public var state: AttachmentState
    /// Whether the volume is deleted when the instance terminates.
    public var deleteOnTermination: Bool

    /// Creates an attachment record.
    /// - Parameters:
    ///   - volumeId: The volume id.
    ///   - instanceId: The instance id.
    ///   - device: The device name.
    ///   - state: The attachment state.
    ///   - deleteOnTermination: Whether the volume goes with the instance.
    public init(volumeId: String, instanceId: String, device: String, state: AttachmentState,
                deleteOnTermination: Bool = false) {
        self.volumeId = volumeId
        self.instanceId = instanceId
        self.device = device
        self.state = state
        self.deleteOnTermination = deleteOnTermination
    }
}

/// An attachment's state (`attaching`, `attached`, `detaching`, `detached`, `busy`).
public struct AttachmentState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The state as EC2 spells it.
    public var rawValue: String
    /// Creates a state from EC2's spelling.
    /// - Parameter rawValue: The state string.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Being attached.
    public static let attaching = AttachmentState(rawValue: "attaching")
    /// Attached.
    public static let attached = AttachmentState(rawValue: "attached")
    /// Being detached.
    public static let detaching = AttachmentState(rawValue: "detaching")
    /// Detached.
    public static let detached = AttachmentState(rawValue: "detached")
    /// Attached, but the instance is using it and a plain detach is stuck.
    public static let busy = AttachmentState(rawValue: "busy")
    /// The raw value.
    public var description: String { rawValue }
}
