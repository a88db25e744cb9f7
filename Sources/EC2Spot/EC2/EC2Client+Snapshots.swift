import Foundation

extension EC2Client {
    /// Starts a snapshot of a volume (`CreateSnapshot`); wait with
    /// ``waitUntilSnapshotCompleted(snapshotId:timeout:delay:)``.
    /// - Parameters:
    ///   - volumeId: The volume.
    ///   - description: A description (at most 255 characters).
    ///   - tags: Tags applied at creation (a `snapshot` TagSpecification).
    /// - Returns: The snapshot (usually `pending`).
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func createSnapshot(volumeId: String, description: String? = nil, tags: [Tag] = []) async throws -> Snapshot {
        var query = EC2Query(action: "CreateSnapshot")
        query.set("VolumeId", volumeId)
        query.set("Description", description)
        if !tags.isEmpty { query.tagSpecifications([TagSpecification(resourceType: "snapshot", tags: tags)]) }
        return try EC2Decoding.snapshot(try await send(query))
    }

    /// Describes snapshots (`DescribeSnapshots`), following `NextToken` through every page.
    /// - Parameters:
    ///   - snapshotIds: Only these snapshots.
    ///   - ownerIds: Only snapshots owned by these (`self` for your own; without it EC2 also
    ///     lists every public snapshot).
    ///   - filters: Only snapshots matching all filters.
    /// - Returns: The snapshots.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func describeSnapshots(snapshotIds: [String] = [], ownerIds: [String] = ["self"],
                                  filters: [Filter] = []) async throws -> [Snapshot] {
        var query = EC2Query(action: "DescribeSnapshots")
        query.list("SnapshotId", snapshotIds)
        query.list("Owner", ownerIds)
        query.filters(filters)
        return try await paginate(query) { try $0.items("snapshotSet").map(EC2Decoding.snapshot) }
    }
}
