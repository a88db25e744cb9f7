import Foundation

/// An EBS snapshot as `CreateSnapshot` / `DescribeSnapshots` report it.
public struct Snapshot: Sendable, Hashable {
    /// The id, `snap-…`.
    public var snapshotId: String
    /// The volume it was taken from.
    public var volumeId: String
    /// The state.
    public var state: SnapshotState
    /// Progress as EC2 reports it, for example `"42%"` (empty if not reported).
    public var progress: String
    /// The source volume's size in GiB.
    public var volumeSizeGiB: Int
    /// The description.
    public var description: String
    /// When it was started.
    public var startTime: Date?
    /// The tags.
    public var tags: [Tag]

    /// Creates a snapshot description (mostly for tests and fakes).
    /// - Parameters:
    ///   - snapshotId: The id.
    ///   - volumeId: The source volume.
    ///   - state: The state.
    ///   - progress: The progress string.
    ///   - volumeSizeGiB: The size in GiB.
    ///   - description: The description.
    ///   - startTime: The start time.
    ///   - tags: The tags.
    public init(snapshotId: String, volumeId: String, state: SnapshotState, progress: String = "",
                volumeSizeGiB: Int, description: String = "", startTime: Date? = nil, tags: [Tag] = []) {
        self.snapshotId = snapshotId
        self.volumeId = volumeId
        self.state = state
        self.progress = progress
        self.volumeSizeGiB = volumeSizeGiB
        self.description = description
        self.startTime = startTime
        self.tags = tags
    }
}

/// A snapshot's state (`pending`, `completed`, `error`, `recoverable`, `recovering`).
public struct SnapshotState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The state as EC2 spells it.
    public var rawValue: String
    /// Creates a state from EC2's spelling.
    /// - Parameter rawValue: The state string.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Being taken.
    public static let pending = SnapshotState(rawValue: "pending")
    /// Complete and usable.
    public static let completed = SnapshotState(rawValue: "completed")
    /// Failed.
    public static let error = SnapshotState(rawValue: "error")
    /// The raw value.
    public var description: String { rawValue }
}

/// An Availability Zone as `DescribeAvailabilityZones` reports it.
public struct AvailabilityZone: Sendable, Hashable {
    /// The name, for example `us-east-1a`.
    public var zoneName: String
    /// The account-independent id, for example `use1-az4` (empty if not reported).
    public var zoneId: String
    /// The state, for example `available`.
    public var state: String
    /// The region, for example `us-east-1`.
    public var regionName: String

    /// Creates a zone description (mostly for tests and fakes).
    /// - Parameters:
    ///   - zoneName: The name.
    ///   - zoneId: The zone id.
    ///   - state: The state.
    ///   - regionName: The region.
    public init(zoneName: String, zoneId: String, state: String, regionName: String) {
        self.zoneName = zoneName
        self.zoneId = zoneId
        self.state = state
        self.regionName = regionName
    }
}
