import Foundation

/// Keeps one named EBS volume attached to whichever instance is running now.
///
/// The volume is found by its tag (``tagKey`` = name, `spottrain:volume` by default), so it
/// survives any number of spot interruptions. ``ensureAttached(name:sizeGiB:volumeType:device:instanceId:availabilityZone:)``
/// is idempotent: run it at every boot; when the volume is already attached it changes nothing.
///
/// Every volume carries a ``VolumeLineage`` marking (generation, state, source/copy links,
/// holder). Each run first reads all volumes of the name and lets ``VolumeLineage/decide(_:)``
/// pick the one live volume, finishing or undoing whatever a dead run left half done. So a
/// move (snapshot, pending copy, commit on the source, promote the copy, attach) can die after
/// any AWS call and the next run, from any zone, continues from a consistent state; at no
/// moment are two volumes of one name live.
///
/// Concurrent runs for one name converge: a run *claims* a volume by writing its
/// `spottrain:holder` tag, waiting ``settleDelay`` and reading it back (last writer wins);
/// a run that finds the volume held or attached by another live instance waits for it, up to
/// ``volumeTimeout``, then fails with ``PersistentVolumeError/heldByLiveInstance(volumeId:instanceId:state:)``.
/// Of two volumes created at once, the older is elected and the other deleted by its creator.
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
        /// The live volume was in another Availability Zone; it was copied here through a
        /// snapshot and the copy attached. The old volume is kept, tagged `moved`.
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
    /// The client.
    public var client: EC2Client
    /// Timeout of each wait (volume available, attached, detached, a live holder letting go).
    public var volumeTimeout: Duration
    /// Timeout of the snapshot wait when moving between zones.
    public var snapshotTimeout: Duration
    /// Pause between polls.
    public var pollDelay: Duration
    /// Pause between writing a claim and reading it back; must exceed the time between a
    /// competing run's read and its write (a few request round trips).
    public var settleDelay: Duration
    /// Makes idempotency tokens for CreateVolume of a new (not copied) volume, and the nonce
    /// of holder and attach tokens (fixed in tests).
    public var makeToken: @Sendable () -> String

    /// Creates a manager.
    /// - Parameters:
    ///   - client: The EC2 client (its clock drives every wait).
    ///   - tagKey: The name tag key.
    ///   - volumeTimeout: Timeout of each volume wait, including waiting for a live holder.
    ///   - snapshotTimeout: Timeout of the snapshot wait.
    ///   - pollDelay: Pause between polls.
    ///   - settleDelay: Pause between writing a claim and checking it (default: `pollDelay`).
    ///   - makeToken: Idempotency-token and nonce source.
    public init(client: EC2Client, tagKey: String = "spottrain:volume",
                volumeTimeout: Duration = .seconds(300), snapshotTimeout: Duration = .seconds(7200),
                pollDelay: Duration = .seconds(5), settleDelay: Duration? = nil,
                makeToken: @escaping @Sendable () -> String = { UUID().uuidString }) {
        self.client = client
        self.tagKey = tagKey
        self.volumeTimeout = volumeTimeout
        self.snapshotTimeout = snapshotTimeout
        self.pollDelay = pollDelay
        self.settleDelay = settleDelay ?? pollDelay
        self.makeToken = makeToken
    }

    /// How many decide-and-act rounds one call may take before giving up (each round either
    /// returns, or observes another run's progress).
    static let maxRounds = 8

    /// Makes sure the live volume called `name` is in `availabilityZone` and attached to
    /// `instanceId` at `device`.
    ///
    /// Each round: read all volumes of the name and decide the live one
    /// (``VolumeLineage/decide(_:)``). None → create one (`pending`) and decide again (of two
    /// racing creates the older wins; the loser deletes its own). Live one elsewhere → claim
    /// it, wait for a live holder to let go, detach it from a dead one, and move it here
    /// (``move(_:name:sizeGiB:volumeType:instanceId:availabilityZone:claim:)``). Live one here
    /// → claim it, apply the repairs, detach it from a dead instance, attach, and check that it
    /// is still the live one.
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
        var created: String?
        var moved: Action?
        for _ in 0..<Self.maxRounds {
            let all = try await volumes(named: name)
            let decision = VolumeLineage.decide(all)
            // A volume this run created that lost the election goes at once, before any wait
            // (it was never handed to a caller, so nothing was trained on it).
            if let mine = created, decision.live?.volumeId != mine {
                if all.contains(where: { $0.volumeId == mine }) { try await deleteQuietly(mine) }
                created = nil
                continue
            }
            guard let live = decision.live else {
                created = try await createPending(name: name, sizeGiB: sizeGiB, volumeType: volumeType,
                                                  availabilityZone: availabilityZone)
                continue
            }
            guard let claimed = try await claim(live, instanceId: instanceId) else { continue }
            // Re-decide under the claim: another run may have acted before it settled.
            let current = VolumeLineage.decide(try await volumes(named: name))
            guard current.live?.volumeId == live.volumeId else { continue }
            try await apply(current.repairs, except: created.map { [$0] } ?? [])

            if claimed.volume.availabilityZone != availabilityZone {
                guard let (copy, snapshotId) = try await move(
                    claimed.volume, name: name, sizeGiB: sizeGiB, volumeType: volumeType, instanceId: instanceId,
                    availabilityZone: availabilityZone, claim: claimed.token) else { continue }
                moved = .moved(fromVolumeId: live.volumeId, fromAvailabilityZone: live.availabilityZone,
                               snapshotId: snapshotId)
                _ = copy
                continue
            }
            guard let (action, volume) = try await attachHere(claimed.volume, name: name, device: device,
                                                              instanceId: instanceId) else { continue }
            if let moved { return Result(action: moved, volume: volume) }
            if created == volume.volumeId { return Result(action: .created, volume: volume) }
            return Result(action: action, volume: volume)
        }
        throw PersistentVolumeError.noConvergence(name: name, rounds: Self.maxRounds)
    }

    /// Every volume tagged with `name`.
    func volumes(named name: String) async throws -> [Volume] {
        try await client.describeVolumes(filters: [Filter.tag(tagKey, name)])
    }

    // MARK: - Steps

    private func createPending(name: String, sizeGiB: Int, volumeType: String,
                               availabilityZone: String) async throws -> String {
        let created = try await client.createVolume(
            availabilityZone: availabilityZone, sizeGiB: sizeGiB, volumeType: volumeType,
            tags: [Tag(key: tagKey, value: name), Tag(key: "Name", value: name),
                   Tag(key: VolumeLineage.Key.generation, value: "1"),
                   Tag(key: VolumeLineage.Key.state, value: VolumeLineage.State.pending.rawValue)],
            clientToken: makeToken())
        _ = try await client.waitUntilVolumeAvailable(volumeId: created.volumeId, timeout: volumeTimeout,
                                                      delay: pollDelay)
        return created.volumeId
    }

    /// Applies repairs (promotions first), skipping volumes in `except`.
    private func apply(_ repairs: [VolumeLineage.Repair], except: [String]) async throws {
        for repair in repairs {
            switch repair {
            case let .promote(volumeId):
                try await client.createTags(resourceIds: [volumeId],
                                            tags: [Tag(key: VolumeLineage.Key.state, value: VolumeLineage.State.live.rawValue)])
            case let .delete(volumeId) where !except.contains(volumeId):
                try await deleteQuietly(volumeId)
            case let .retire(volumeId) where !except.contains(volumeId):
                try await client.createTags(resourceIds: [volumeId],
                                            tags: [Tag(key: VolumeLineage.Key.state, value: VolumeLineage.State.retired.rawValue)])
            default:
                continue
            }
        }
    }

    /// Deletes a volume; one already gone (or going) is fine.
    func deleteQuietly(_ volumeId: String) async throws {
        do {
            try await client.deleteVolume(volumeId: volumeId)
        } catch let error as EC2Error where error.code == "InvalidVolume.NotFound" {
            return
        }
    }

    /// Attaches the live volume (claimed, in this zone) here; nil when, after attaching, it
    /// turned out not to be the live one any more (then it is detached again).
    private func attachHere(_ volume: Volume, name: String, device: String,
                            instanceId: String) async throws -> (Action, Volume)? {
        var action = Action.attached
        var attached: Volume
        if let mine = volume.attachment(to: instanceId), mine.state == .attached || mine.state == .busy {
            attached = volume
            action = .alreadyAttached
        } else if let mine = volume.attachment(to: instanceId), mine.state == .attaching {
            attached = try await client.waitUntilVolumeAttached(volumeId: volume.volumeId, instanceId: instanceId,
                                                                timeout: volumeTimeout, delay: pollDelay)
            action = .alreadyAttached
        } else {
            if let other = volume.attachments.first(where: { $0.state != .detached }) {
                if other.instanceId != instanceId { action = .reattached(previousInstanceId: other.instanceId) }
                try await detachFromDeadInstance(volume, attachment: other, instanceId: instanceId)
            } else if volume.state != .available {
                _ = try await client.waitUntilVolumeAvailable(volumeId: volume.volumeId, timeout: volumeTimeout,
                                                              delay: pollDelay)
            }
            attached = try await attach(volume.volumeId, device: device, instanceId: instanceId)
        }
        // Still the live one? (A run elsewhere may have committed a move meanwhile.)
        let after = VolumeLineage.decide(try await volumes(named: name))
        if after.live?.volumeId != volume.volumeId {
            _ = try await client.detachVolume(volumeId: volume.volumeId, instanceId: instanceId)
            _ = try await client.waitUntilVolumeDetached(volumeId: volume.volumeId, timeout: volumeTimeout,
                                                         delay: pollDelay)
            return nil
        }
        return (action, attached)
    }

    func detachFromDeadInstance(_ volume: Volume, attachment: VolumeAttachment,
                                        instanceId: String) async throws {
        if attachment.instanceId != instanceId {
            try await requireDead(attachment.instanceId, volumeId: volume.volumeId)
        }
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
    func requireDead(_ instanceId: String, volumeId: String) async throws {
        if let state = try await liveState(of: instanceId) {
            throw PersistentVolumeError.attachedToLiveInstance(volumeId: volumeId, instanceId: instanceId, state: state)
        }
    }

    /// The state of `instanceId` if it is pending, running or stopping; nil if it is gone,
    /// shutting down, terminated or stopped.
    func liveState(of instanceId: String) async throws -> String? {
        let instance: Instance?
        do {
            instance = try await client.describeInstances(instanceIds: [instanceId]).first
        } catch let error as EC2Error where error.code == "InvalidInstanceID.NotFound"
                    || error.code == "InvalidInstanceID.Malformed" {
            instance = nil
        }
        guard let instance, [.pending, .running, .stopping].contains(instance.state) else { return nil }
        return instance.state.rawValue
    }

    private func attach(_ volumeId: String, device: String, instanceId: String) async throws -> Volume {
        // The attach token makes every snapshot taken before this attach stale.
        try await client.createTags(resourceIds: [volumeId],
                                    tags: [Tag(key: VolumeLineage.Key.attached, value: stamp(instanceId))])
        do {
            _ = try await client.attachVolume(volumeId: volumeId, instanceId: instanceId, device: device)
        } catch let error as EC2Error where error.code == "VolumeInUse" {
            // Another run won the attach between our claim check and this call.
            let holder = try await client.describeVolumes(volumeIds: [volumeId]).first?
                .attachments.first { $0.state != .detached && $0.instanceId != instanceId }?.instanceId
            throw PersistentVolumeError.heldByLiveInstance(volumeId: volumeId, instanceId: holder ?? "another instance",
                                                           state: "attaching")
        }
        return try await client.waitUntilVolumeAttached(volumeId: volumeId, instanceId: instanceId,
                                                        timeout: volumeTimeout, delay: pollDelay)
    }

    /// `<instanceId>@<ISO 8601 time>#<random>`: a holder or attach token, unique per call.
    func stamp(_ instanceId: String) -> String {
        "\(instanceId)@\(ISO8601DateFormatter().string(from: client.clock.now()))#\(makeToken().prefix(12))"
    }
}

/// ``PersistentVolume`` refused to act.
public enum PersistentVolumeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The volume is attached to an instance that is still alive; detaching it could corrupt
    /// that instance's file system.
    case attachedToLiveInstance(volumeId: String, instanceId: String, state: String)
    /// Another live instance holds (claimed or attached) the volume and did not let go within
    /// the timeout.
    case heldByLiveInstance(volumeId: String, instanceId: String, state: String)
    /// Concurrent runs kept changing the volumes of the name; nothing was attached.
    case noConvergence(name: String, rounds: Int)

    /// A stable machine-readable code.
    public var code: String {
        switch self {
        case .attachedToLiveInstance: return "AttachedToLiveInstance"
        case .heldByLiveInstance: return "HeldByLiveInstance"
        case .noConvergence: return "NoConvergence"
        }
    }

    /// A one-line explanation.
    public var description: String {
        switch self {
        case let .attachedToLiveInstance(volumeId, instanceId, state):
            return "volume \(volumeId) is attached to instance \(instanceId), which is \(state); "
                + "stop or terminate it first"
        case let .heldByLiveInstance(volumeId, instanceId, state):
            return "volume \(volumeId) is held by instance \(instanceId), which is still \(state); "
                + "it did not let go within the timeout (raise --timeout, or stop that instance)"
        case let .noConvergence(name, rounds):
            return "volume \(name): other runs kept changing its volumes for \(rounds) rounds; "
                + "nothing was attached, run again"
        }
    }
}
