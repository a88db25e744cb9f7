import Crypto
import Foundation

extension PersistentVolume {
    /// Copies the claimed live volume `source` into `availabilityZone` and commits the move.
    ///
    /// 1. Detach it from a dead instance if needed.
    /// 2. Reuse a snapshot only if it recorded the source's current attach token (so it was
    ///    started after the last detach); else start a new one, tagged with that token. Wait.
    /// 3. Create the copy `pending`, generation + 1, `moved-from` the source, with the source's
    ///    own tags, and a client token derived from source, snapshot, zone and claim (a retry
    ///    in this run returns the same copy). Wait until available.
    /// 4. Re-read the source: still live, still claimed by us, not attached, same attach
    ///    token; otherwise delete the copy and give up this round.
    /// 5. Commit: tag the source `state=moved`, `moved-to=<copy>`.
    /// 6. Promote the copy: `state=live`, holder = us.
    /// - Parameters:
    ///   - source: The live volume, claimed by this run.
    ///   - name: The name.
    ///   - sizeGiB: The requested size (the copy is never smaller than the source).
    ///   - volumeType: The copy's type.
    ///   - instanceId: This instance.
    ///   - availabilityZone: The zone to copy to.
    ///   - claim: This run's holder token on the source.
    /// - Returns: The committed copy and the snapshot id, or nil if the source changed under us.
    /// - Throws: ``PersistentVolumeError``, ``WaiterError``, ``EC2Error``, ``TransportError``.
    func move(_ source: Volume, name: String, sizeGiB: Int, volumeType: String, instanceId: String,
              availabilityZone: String, claim: String) async throws -> (Volume, String)? {
        typealias Key = VolumeLineage.Key
        var source = source
        if let attachment = source.attachments.first(where: { $0.state != .detached }) {
            guard attachment.instanceId != instanceId else { return nil }   // cannot happen across zones
            try await detachFromDeadInstance(source, attachment: attachment, instanceId: instanceId)
            guard let now = try await describe(source.volumeId) else { return nil }
            source = now
        }
        let marking = VolumeLineage.Marking(tags: source.tags)
        let attachToken = source.tags.value(for: Key.attached)

        var snapshot: Snapshot?
        if let attachToken {
            snapshot = try await client.describeSnapshots(filters: [Filter.tag(Key.snapshotSource, source.volumeId),
                                                                    Filter.tag(Key.snapshotSourceAttached, attachToken)])
                .filter { $0.state != .error && $0.volumeId == source.volumeId }
                .sorted { ($0.startTime ?? .distantPast) > ($1.startTime ?? .distantPast) }
                .first
        }
        if snapshot == nil {
            snapshot = try await client.createSnapshot(
                volumeId: source.volumeId,
                description: "spottrain: move volume \(name) from \(source.availabilityZone) to \(availabilityZone)",
                tags: [Tag(key: tagKey + "-snapshot", value: name), Tag(key: Key.snapshotSource, value: source.volumeId),
                       Tag(key: Key.snapshotSourceAttached, value: attachToken ?? "none")])
        }
        guard let snapshot else { return nil }
        if snapshot.state != .completed {
            _ = try await client.waitUntilSnapshotCompleted(snapshotId: snapshot.snapshotId, timeout: snapshotTimeout,
                                                            delay: pollDelay)
        }

        let ownTags = source.tags.filter { !$0.key.hasPrefix("spottrain:") && !$0.key.hasPrefix("aws:")
            && $0.key != tagKey && $0.key != "Name" }
        let copy = try await client.createVolume(
            availabilityZone: availabilityZone, sizeGiB: max(sizeGiB, source.sizeGiB), volumeType: volumeType,
            snapshotId: snapshot.snapshotId,
            tags: [Tag(key: tagKey, value: name), Tag(key: "Name", value: name),
                   Tag(key: Key.generation, value: String(marking.generation + 1)),
                   Tag(key: Key.state, value: VolumeLineage.State.pending.rawValue),
                   Tag(key: Key.movedFrom, value: source.volumeId)] + ownTags,
            clientToken: Self.copyToken(source: source.volumeId, snapshot: snapshot.snapshotId,
                                        zone: availabilityZone, claim: claim))
        _ = try await client.waitUntilVolumeAvailable(volumeId: copy.volumeId, timeout: volumeTimeout, delay: pollDelay)

        guard let now = try await describe(source.volumeId),
              now.tags.value(for: Key.holder) == claim,
              now.tags.value(for: Key.attached) == attachToken,
              VolumeLineage.Marking(tags: now.tags).state == .live,
              !now.attachments.contains(where: { $0.state != .detached }) else {
            try await deleteQuietly(copy.volumeId)
            return nil
        }
        try await client.createTags(resourceIds: [source.volumeId],
                                    tags: [Tag(key: Key.state, value: VolumeLineage.State.moved.rawValue),
                                           Tag(key: Key.movedTo, value: copy.volumeId)])
        try await client.createTags(resourceIds: [copy.volumeId],
                                    tags: [Tag(key: Key.state, value: VolumeLineage.State.live.rawValue),
                                           Tag(key: Key.holder, value: claim)])
        return (copy, snapshot.snapshotId)
    }

    /// CreateVolume's idempotency token for a copy: the same within one claim (a retried
    /// request returns the same volume), different for every other run.
    static func copyToken(source: String, snapshot: String, zone: String, claim: String) -> String {
        let digest = SHA256.hash(data: Data("\(source)|\(snapshot)|\(zone)|\(claim)".utf8))
        return "spottrain-" + digest.prefix(24).map { String(format: "%02x", $0) }.joined()
    }
}
