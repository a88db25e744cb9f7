import Foundation

/// Keeps one named EBS volume attached to whichever instance is running now.
///
/// The volume is found by its tag (``tagKey`` = name, `spottrain:volume` by default), so it
/// survives any number of spot interruptions. ``ensureAttached(name:sizeGiB:volumeType:device:instanceId:availabilityZone:)``
/// is idempotent: run it at every boot; when the volume is already attached it changes nothing.
///
/// When the only copy lives in another Availability Zone (spot capacity moved), it is
/// snapshotted and a copy is created here; the old volume is *not* deleted, only tagged
/// `spottrain:moved-to = <new volume id>` so later runs ignore it and a person can remove it
/// once the copy is verified.
public struct PersistentVolume: Sendable {
    /// What ``PersistentVolume/ensureAttached(name:sizeGiB:volumeType:device:instanceId:availabilityZone:)`` did.
    public enum Action: Sendable, Equatable {
        /// The volume was already attached to this instance; nothing changed.
        case alreadyAttached
        /// An existing, unattached volume in this Availability Zone was attached.
        case attached
        /// The volume was detached from a dead instance and attached here.
        case reattached(previousInstanceId: String)
        /// No volume existed; one was created and attached.
        case created
        /// The volume existed only in another Availability Zone; it was copied here through a
        /// snapshot and the copy attached. The old volume is kept, tagged as moved.
        case moved(fromVolumeId: String, fromAvailabilityZone: String, snapshotId: String)
    }

    /// The outcome: what was done and the volume as last described (attached here).
    public struct Result: Sendable, Equatable {
        /// What was done.
        public var action: Action
        /// The volume, attached to the instance.
        public var volume: Volume
    }

    /// The tag whose value is the volume's name.
    public var tagKey: String
    /// The tag marking a volume that was copied to another zone (value: the new volume id).
    public var movedTagKey: String
    /// The client.
    public var client: EC2Client
    /// Timeout of each wait (volume available, attached, detached).
    public var volumeTimeout: Duration
    /// Timeout of the snapshot wait when moving between zones.
    public var snapshotTimeout: Duration
    /// Pause between polls.
    public var pollDelay: Duration
    /// Makes idempotency tokens for CreateVolume (fixed in tests).
    public var makeToken: @Sendable () -> String

    /// Creates a manager.
    /// - Parameters:
    ///   - client: The EC2 client.
    ///   - tagKey: The name tag key.
    ///   - movedTagKey: The tag that marks moved-away volumes.
    ///   - volumeTimeout: Timeout of each volume wait.
    ///   - snapshotTimeout: Timeout of the snapshot wait.
    ///   - pollDelay: Pause between polls.
    ///   - makeToken: Idempotency-token source.
    public init(client: EC2Client, tagKey: String = "spottrain:volume", movedTagKey: String = "spottrain:moved-to",
                volumeTimeout: Duration = .seconds(300), snapshotTimeout: Duration = .seconds(7200),
                pollDelay: Duration = .seconds(5), makeToken: @escaping @Sendable () -> String = { UUID().uuidString }) {
        self.client = client
        self.tagKey = tagKey
        self.movedTagKey = movedTagKey
        self.volumeTimeout = volumeTimeout
        self.snapshotTimeout = snapshotTimeout
        self.pollDelay = pollDelay
        self.makeToken = makeToken
    }

    /// Makes sure the volume called `name` exists in `availabilityZone` and is attached to
    /// `instanceId` at `device`.
    ///
    /// 1. Find volumes tagged ``tagKey`` = `name` (ignoring deleted ones and those tagged
    ///    ``movedTagKey``). In this zone, prefer the one attached to this instance, else the
    ///    oldest.
    /// 2. Attached here → nothing to do. Attached to another instance → if that instance is
    ///    still pending/running/stopping, throw (never steal a live instance's disk);
    ///    otherwise detach (forced if a plain detach fails or does not finish in time), wait.
    /// 3. None here but one in another zone → snapshot it (reusing a snapshot already made
    ///    for it), create a copy here with the same name tag, tag the old one as moved.
    /// 4. None at all → create it.
    /// 5. Attach and wait until attached.
    /// - Parameters:
    ///   - name: The volume's name (tag value).
    ///   - sizeGiB: Size for a new volume (a copy is at least as large as its source).
    ///   - volumeType: Type for a new volume, for example `gp3`.
    ///   - device: Device name, for example `/dev/xvdb`.
    ///   - instanceId: This instance (from IMDS).
    ///   - availabilityZone: This instance's zone (from IMDS).
    /// - Returns: What was done and the attached volume.
    /// - Throws: ``PersistentVolumeError``, ``WaiterError``, ``EC2Error``, ``TransportError``.
    public func ensureAttached(name: String, sizeGiB: Int, volumeType: String = "gp3", device: String = "/dev/xvdb",
                               instanceId: String, availabilityZone: String) async throws -> Result {
        precondition(!name.isEmpty, "ensureAttached: name is empty")
        precondition(sizeGiB > 0, "ensureAttached: sizeGiB \(sizeGiB) must be positive")
        precondition(!device.isEmpty && !instanceId.isEmpty && !availabilityZone.isEmpty,
                     "ensureAttached: device, instanceId and availabilityZone must not be empty")

        let gone: Set<VolumeState> = [.deleting, .deleted, .error]
        let candidates = try await client.describeVolumes(filters: [Filter.tag(tagKey, name)])
            .filter { !gone.contains($0.state) && $0.tags.value(for: movedTagKey) == nil }
            .sorted(by: Self.olderFirst)
        let local = candidates.filter { $0.availabilityZone == availabilityZone }

        if let volume = local.first(where: { $0.attachment(to: instanceId) != nil }) ?? local.first {
            return try await attachExisting(volume, device: device, instanceId: instanceId)
        }
        if let remote = candidates.first {
            return try await move(remote, name: name, sizeGiB: sizeGiB, volumeType: volumeType, device: device,
                                  instanceId: instanceId, availabilityZone: availabilityZone)
        }
        let created = try await client.createVolume(
            availabilityZone: availabilityZone, sizeGiB: sizeGiB, volumeType: volumeType,
            tags: [Tag(key: tagKey, value: name), Tag(key: "Name", value: name)], clientToken: makeToken())
        _ = try await client.waitUntilVolumeAvailable(volumeId: created.volumeId, timeout: volumeTimeout, delay: pollDelay)
        let volume = try await attach(created.volumeId, device: device, instanceId: instanceId)
        return Result(action: .created, volume: volume)
    }

    // MARK: - Steps

    private func attachExisting(_ volume: Volume, device: String, instanceId: String) async throws -> Result {
        if let mine = volume.attachment(to: instanceId) {
            switch mine.state {
            case .attached, .busy:
                return Result(action: .alreadyAttached, volume: volume)
            case .attaching:
                let attached = try await client.waitUntilVolumeAttached(
                    volumeId: volume.volumeId, instanceId: instanceId, timeout: volumeTimeout, delay: pollDelay)
                return Result(action: .alreadyAttached, volume: attached)
            default:
                // Detaching from this very instance (an earlier run was interrupted): let it
                // finish, then attach again.
                _ = try await client.waitUntilVolumeDetached(volumeId: volume.volumeId, timeout: volumeTimeout,
                                                             delay: pollDelay)
                let attached = try await attach(volume.volumeId, device: device, instanceId: instanceId)
                return Result(action: .attached, volume: attached)
            }
        }
        var previous: String?
        if let other = volume.attachments.first(where: { $0.state != .detached }) {
            previous = other.instanceId
            try await detachFromDeadInstance(volume, attachment: other)
        } else if volume.state != .available {
            _ = try await client.waitUntilVolumeAvailable(volumeId: volume.volumeId, timeout: volumeTimeout,
                                                          delay: pollDelay)
        }
        let attached = try await attach(volume.volumeId, device: device, instanceId: instanceId)
        return Result(action: previous.map { .reattached(previousInstanceId: $0) } ?? .attached, volume: attached)
    }

    private func detachFromDeadInstance(_ volume: Volume, attachment: VolumeAttachment) async throws {
        try await requireDead(attachment.instanceId, volumeId: volume.volumeId)
        if attachment.state != .detaching {
            do {
                _ = try await client.detachVolume(volumeId: volume.volumeId, instanceId: attachment.instanceId)
            } catch let error as EC2Error where error.code == "IncorrectState" {
                // Detaching already, or stuck: the forced detach below settles it.
            }
        }
        do {
            _ = try await client.waitUntilVolumeDetached(volumeId: volume.volumeId, timeout: volumeTimeout,
                                                         delay: pollDelay)
        } catch let error as WaiterError where error.kind == .timedOut {
            _ = try await client.detachVolume(volumeId: volume.volumeId, instanceId: attachment.instanceId, force: true)
            _ = try await client.waitUntilVolumeDetached(volumeId: volume.volumeId, timeout: volumeTimeout,
                                                         delay: pollDelay)
        }
    }

    /// Throws unless the instance is gone, terminating or stopped.
    private func requireDead(_ instanceId: String, volumeId: String) async throws {
        let instance: Instance?
        do {
            instance = try await client.describeInstances(instanceIds: [instanceId]).first
        } catch let error as EC2Error where error.code == "InvalidInstanceID.NotFound" {
            instance = nil
        }
        if let instance, [.pending, .running, .stopping].contains(instance.state) {
            throw PersistentVolumeError.attachedToLiveInstance(volumeId: volumeId, instanceId: instanceId,
                                                               state: instance.state.rawValue)
        }
    }

    private func move(_ source: Volume, name: String, sizeGiB: Int, volumeType: String, device: String,
                      instanceId: String, availabilityZone: String) async throws -> Result {
        for attachment in source.attachments where attachment.state != .detached {
            try await requireDead(attachment.instanceId, volumeId: source.volumeId)
        }
        let sourceTag = "spottrain:source-volume"
        let existing = try await client.describeSnapshots(filters: [Filter.tag(sourceTag, source.volumeId)])
            .filter { $0.state != .error }
            .sorted { ($0.startTime ?? .distantPast) > ($1.startTime ?? .distantPast) }
            .first
        let snapshot: Snapshot
        if let existing {
            snapshot = existing
        } else {
            snapshot = try await client.createSnapshot(
                volumeId: source.volumeId,
                description: "spottrain: move volume \(name) from \(source.availabilityZone) to \(availabilityZone)",
                tags: [Tag(key: tagKey + "-snapshot", value: name), Tag(key: sourceTag, value: source.volumeId)])
        }
        if snapshot.state != .completed {
            _ = try await client.waitUntilSnapshotCompleted(snapshotId: snapshot.snapshotId, timeout: snapshotTimeout,
                                                            delay: pollDelay)
        }
        let copy = try await client.createVolume(
            availabilityZone: availabilityZone, sizeGiB: max(sizeGiB, source.sizeGiB), volumeType: volumeType,
            snapshotId: snapshot.snapshotId,
            tags: [Tag(key: tagKey, value: name), Tag(key: "Name", value: name),
                   Tag(key: "spottrain:moved-from", value: source.volumeId)],
            clientToken: makeToken())
        _ = try await client.waitUntilVolumeAvailable(volumeId: copy.volumeId, timeout: volumeTimeout, delay: pollDelay)
        try await client.createTags(resourceIds: [source.volumeId], tags: [Tag(key: movedTagKey, value: copy.volumeId)])
        let attached = try await attach(copy.volumeId, device: device, instanceId: instanceId)
        return Result(action: .moved(fromVolumeId: source.volumeId, fromAvailabilityZone: source.availabilityZone,
                                     snapshotId: snapshot.snapshotId),
                      volume: attached)
    }

    private func attach(_ volumeId: String, device: String, instanceId: String) async throws -> Volume {
        _ = try await client.attachVolume(volumeId: volumeId, instanceId: instanceId, device: device)
        return try await client.waitUntilVolumeAttached(volumeId: volumeId, instanceId: instanceId,
                                                        timeout: volumeTimeout, delay: pollDelay)
    }

    static func olderFirst(_ lhs: Volume, _ rhs: Volume) -> Bool {
        let left = lhs.createTime ?? .distantFuture
        let right = rhs.createTime ?? .distantFuture
        return left != right ? left < right : lhs.volumeId < rhs.volumeId
    }
}

/// ``PersistentVolume`` refused to act.
public enum PersistentVolumeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The volume is attached to an instance that is still alive; detaching it could corrupt
    /// that instance's file system.
    case attachedToLiveInstance(volumeId: String, instanceId: String, state: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case let .attachedToLiveInstance(volumeId, instanceId, state):
            return "volume \(volumeId) is attached to instance \(instanceId), which is \(state); "
                + "stop or terminate it first"
        }
    }
}
