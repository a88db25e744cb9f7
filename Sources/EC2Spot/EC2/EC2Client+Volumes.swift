import Foundation

extension EC2Client {
    /// Creates an EBS volume (`CreateVolume`).
    /// - Parameters:
    ///   - availabilityZone: Where to create it; it can only attach to instances there.
    ///   - sizeGiB: Size in GiB (nil only together with `snapshotId`: the snapshot's size).
    ///   - volumeType: `gp3` (default), `gp2`, `io2`, `st1`, ….
    ///   - iops: Provisioned IOPS (gp3, io1, io2).
    ///   - throughput: Throughput in MiB/s (gp3).
    ///   - encrypted: Whether to encrypt it (nil: the account default).
    ///   - snapshotId: Create from this snapshot.
    ///   - tags: Tags applied at creation (a `volume` TagSpecification).
    ///   - clientToken: Idempotency token: resending the same request with it creates no
    ///     second volume.
    /// - Returns: The new volume (usually `creating`).
    /// - Throws: ``EC2Error``, ``TransportError``, ``CredentialsError``.
    public func createVolume(availabilityZone: String, sizeGiB: Int?, volumeType: String = "gp3",
                             iops: Int? = nil, throughput: Int? = nil, encrypted: Bool? = nil,
                             snapshotId: String? = nil, tags: [Tag] = [], clientToken: String? = nil) async throws -> Volume {
        precondition(sizeGiB != nil || snapshotId != nil, "createVolume: need sizeGiB or snapshotId")
        precondition(sizeGiB.map { $0 > 0 } ?? true, "createVolume: sizeGiB \(sizeGiB ?? 0) must be positive")
        var query = EC2Query(action: "CreateVolume")
        query.set("AvailabilityZone", availabilityZone)
        query.set("Size", sizeGiB)
        query.set("VolumeType", volumeType)
        query.set("Iops", iops)
        query.set("Throughput", throughput)
        query.set("Encrypted", encrypted)
        query.set("SnapshotId", snapshotId)
        query.set("ClientToken", clientToken)
        if !tags.isEmpty { query.tagSpecifications([TagSpecification(resourceType: "volume", tags: tags)]) }
        return try EC2Decoding.volume(try await send(query))
    }

    /// Attaches a volume to an instance (`AttachVolume`). Returns at once; wait with
    /// ``waitUntilVolumeAttached(volumeId:instanceId:timeout:delay:)``.
    /// - Parameters:
    ///   - volumeId: The volume (same Availability Zone as the instance).
    ///   - instanceId: The instance.
    ///   - device: The device name, for example `/dev/xvdb` (NVMe instances expose it as
    ///     `/dev/nvme*n1` with this name as the serial's alias).
    /// - Returns: The attachment (usually `attaching`).
    /// - Throws: ``EC2Error`` (for example `IncorrectState`, `VolumeInUse`), ``TransportError``.
    public func attachVolume(volumeId: String, instanceId: String, device: String) async throws -> VolumeAttachment {
        var query = EC2Query(action: "AttachVolume")
        query.set("VolumeId", volumeId)
        query.set("InstanceId", instanceId)
        query.set("Device", device)
        return try EC2Decoding.attachment(try await send(query))
    }

    /// Detaches a volume (`DetachVolume`). `InstanceId` is always sent, so a volume that
    /// meanwhile moved to another instance is not detached from it by mistake.
    /// - Parameters:
    ///   - volumeId: The volume.
    ///   - instanceId: The instance it is attached to.
    ///   - force: Force the detach (data not flushed by the instance may be lost; for
    ///     instances that are dead or stuck).
    /// - Returns: The attachment (usually `detaching`).
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func detachVolume(volumeId: String, instanceId: String, force: Bool = false) async throws -> VolumeAttachment {
        var query = EC2Query(action: "DetachVolume")
        query.set("VolumeId", volumeId)
        query.set("InstanceId", instanceId)
        if force { query.set("Force", true) }
        return try EC2Decoding.attachment(try await send(query))
    }

    /// Deletes a volume (`DeleteVolume`); it must be `available`.
    /// - Parameter volumeId: The volume.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func deleteVolume(volumeId: String) async throws {
        var query = EC2Query(action: "DeleteVolume")
        query.set("VolumeId", volumeId)
        _ = try await send(query)
    }

    /// Describes volumes (`DescribeVolumes`), following `NextToken` through every page.
    /// - Parameters:
    ///   - volumeIds: Only these volumes (EC2 fails with `InvalidVolume.NotFound` if one is unknown).
    ///   - filters: Only volumes matching all filters, for example `Filter.tag("spottrain:volume", "data")`.
    /// - Returns: The volumes.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func describeVolumes(volumeIds: [String] = [], filters: [Filter] = []) async throws -> [Volume] {
        var query = EC2Query(action: "DescribeVolumes")
        query.list("VolumeId", volumeIds)
        query.filters(filters)
        return try await paginate(query) { try $0.items("volumeSet").map(EC2Decoding.volume) }
    }

    /// Adds or overwrites tags (`CreateTags`).
    /// - Parameters:
    ///   - resourceIds: Volumes, instances, snapshots….
    ///   - tags: The tags.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func createTags(resourceIds: [String], tags: [Tag]) async throws {
        precondition(!resourceIds.isEmpty && !tags.isEmpty, "createTags: need at least one resource and one tag")
        var query = EC2Query(action: "CreateTags")
        query.list("ResourceId", resourceIds)
        query.tags("Tag", tags)
        _ = try await send(query)
    }
}
