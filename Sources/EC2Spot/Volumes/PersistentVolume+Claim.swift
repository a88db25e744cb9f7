import Foundation

extension PersistentVolume {
    /// A volume this run holds: its `spottrain:holder` tag is ``token``.
    struct Claim: Sendable {
        /// The volume as read back after the claim settled.
        var volume: Volume
        /// The holder token written.
        var token: String
    }

    /// How long a claim by a live instance that has not attached the volume blocks others:
    /// long enough for a move's snapshot (``snapshotTimeout``) plus the volume waits.
    var claimLease: Duration { snapshotTimeout + volumeTimeout * 2 }

    /// Claims `volume` for `instanceId`: waits (up to ``volumeTimeout``) while another live
    /// instance has it attached or holds a fresh claim, then writes the holder tag, waits
    /// ``settleDelay`` and reads it back. Of two runs claiming at once the later writer wins;
    /// the other sees a live holder and waits.
    /// - Parameters:
    ///   - volume: The volume.
    ///   - instanceId: This instance.
    /// - Returns: The claim, or nil if the volume disappeared (the caller decides again).
    /// - Throws: ``PersistentVolumeError/heldByLiveInstance(volumeId:instanceId:state:)`` after
    ///   the timeout; ``EC2Error``, ``TransportError``.
    func claim(_ volume: Volume, instanceId: String) async throws -> Claim? {
        let deadline = client.clock.now().addingTimeInterval(Self.seconds(volumeTimeout))
        while true {
            guard let current = try await describe(volume.volumeId) else { return nil }
            // Already ours and attached here (a re-run on the same instance): nothing to write.
            if let held = current.tags.value(for: VolumeLineage.Key.holder),
               Self.parseStamp(held).instanceId == instanceId,
               current.attachment(to: instanceId).map({ $0.state == .attached || $0.state == .busy }) == true {
                return Claim(volume: current, token: held)
            }
            if let (holder, state) = try await liveBlocker(current, instanceId: instanceId) {
                guard client.clock.now() < deadline else {
                    throw PersistentVolumeError.heldByLiveInstance(volumeId: volume.volumeId, instanceId: holder,
                                                                   state: state)
                }
                try await client.clock.sleep(pollDelay)
                continue
            }
            let token = stamp(instanceId)
            try await client.createTags(resourceIds: [volume.volumeId],
                                        tags: [Tag(key: VolumeLineage.Key.holder, value: token)])
            try await client.clock.sleep(settleDelay)
            guard let check = try await describe(volume.volumeId) else { return nil }
            if check.tags.value(for: VolumeLineage.Key.holder) == token {
                return Claim(volume: check, token: token)
            }
        }
    }

    /// Another live instance that blocks a claim: one with the volume attached, or the holder
    /// of a claim younger than ``claimLease``. Returns its id and state.
    func liveBlocker(_ volume: Volume, instanceId: String) async throws -> (String, String)? {
        for attachment in volume.attachments where attachment.state != .detached && attachment.instanceId != instanceId {
            if let state = try await liveState(of: attachment.instanceId) { return (attachment.instanceId, state) }
        }
        guard let holder = volume.tags.value(for: VolumeLineage.Key.holder).map(Self.parseStamp),
              holder.instanceId != instanceId else { return nil }
        if let since = holder.time,
           client.clock.now().timeIntervalSince(since) > Self.seconds(claimLease) { return nil }
        if let state = try await liveState(of: holder.instanceId) { return (holder.instanceId, state) }
        return nil
    }

    /// The volume now, or nil if it is gone.
    func describe(_ volumeId: String) async throws -> Volume? {
        let gone: Set<VolumeState> = [.deleting, .deleted, .error]
        do {
            return try await client.describeVolumes(volumeIds: [volumeId]).first.flatMap {
                gone.contains($0.state) ? nil : $0
            }
        } catch let error as EC2Error where error.code == "InvalidVolume.NotFound" {
            return nil
        }
    }

    /// Splits a token written by ``stamp(_:)`` into instance id and time.
    static func parseStamp(_ text: String) -> (instanceId: String, time: Date?) {
        let instance = text.split(separator: "@", maxSplits: 1).first.map(String.init) ?? text
        let rest = text.split(separator: "@", maxSplits: 1).dropFirst().first
        let timeText = rest?.split(separator: "#", maxSplits: 1).first.map(String.init)
        return (instance, timeText.flatMap { ISO8601DateFormatter().date(from: $0) })
    }

    /// A duration in seconds.
    static func seconds(_ duration: Duration) -> TimeInterval {
        let parts = duration.components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
