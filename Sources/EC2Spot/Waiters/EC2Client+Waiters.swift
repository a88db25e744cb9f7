import Foundation

extension EC2Client {
    /// Waits until a volume is `available` (`InvalidVolume.NotFound` right after creation is
    /// tolerated: EC2 is eventually consistent).
    /// - Parameters:
    ///   - volumeId: The volume.
    ///   - timeout: Longest wait.
    ///   - delay: Pause between polls.
    /// - Returns: The available volume.
    /// - Throws: ``WaiterError`` when it reaches `deleted`/`error` or the timeout passes; ``EC2Error``.
    public func waitUntilVolumeAvailable(volumeId: String, timeout: Duration = .seconds(300),
                                         delay: Duration = .seconds(5)) async throws -> Volume {
        let waiter = Waiter<Volume>(
            name: "volume \(volumeId) available",
            acceptors: [
                .output(.success) { $0.state == .available },
                .output(.failure) { $0.state == .deleted || $0.state == .deleting || $0.state == .error },
                .errorCode(.retry, "InvalidVolume.NotFound"),
            ],
            delay: delay, timeout: timeout, describe: \.state.rawValue)
        return try await waiter.wait(clock: clock) { try await describeVolume(volumeId) }
    }

    /// Waits until a volume is attached (`attached`) to `instanceId`.
    /// - Parameters:
    ///   - volumeId: The volume.
    ///   - instanceId: The instance it must be attached to.
    ///   - timeout: Longest wait.
    ///   - delay: Pause between polls.
    /// - Returns: The volume.
    /// - Throws: ``WaiterError`` when the volume is deleted, in `error`, attached to another
    ///   instance, or the timeout passes; ``EC2Error``.
    public func waitUntilVolumeAttached(volumeId: String, instanceId: String, timeout: Duration = .seconds(300),
                                        delay: Duration = .seconds(5)) async throws -> Volume {
        let waiter = Waiter<Volume>(
            name: "volume \(volumeId) attached to \(instanceId)",
            acceptors: [
                .output(.success) { $0.attachment(to: instanceId)?.state == .attached },
                .output(.failure) { $0.state == .deleted || $0.state == .deleting || $0.state == .error },
                .output(.failure) { volume in
                    volume.attachments.contains { $0.instanceId != instanceId && $0.state == .attached }
                },
                .errorCode(.retry, "InvalidVolume.NotFound"),
            ],
            delay: delay, timeout: timeout, describe: Self.describeAttachment)
        return try await waiter.wait(clock: clock) { try await describeVolume(volumeId) }
    }

    /// Waits until a volume has no attachment and is `available`.
    /// - Parameters:
    ///   - volumeId: The volume.
    ///   - timeout: Longest wait.
    ///   - delay: Pause between polls.
    /// - Returns: The detached volume.
    /// - Throws: ``WaiterError`` when the volume is deleted or in `error`, or the timeout passes; ``EC2Error``.
    public func waitUntilVolumeDetached(volumeId: String, timeout: Duration = .seconds(300),
                                        delay: Duration = .seconds(5)) async throws -> Volume {
        let waiter = Waiter<Volume>(
            name: "volume \(volumeId) detached",
            acceptors: [
                .output(.success) { volume in
                    volume.state == .available && volume.attachments.allSatisfy { $0.state == .detached }
                },
                .output(.failure) { $0.state == .deleted || $0.state == .deleting || $0.state == .error },
            ],
            delay: delay, timeout: timeout, describe: Self.describeAttachment)
        return try await waiter.wait(clock: clock) { try await describeVolume(volumeId) }
    }

    /// Waits until an instance is `running`.
    /// - Parameters:
    ///   - instanceId: The instance.
    ///   - timeout: Longest wait.
    ///   - delay: Pause between polls.
    /// - Returns: The running instance.
    /// - Throws: ``WaiterError`` when it is stopping, stopped, shutting down or terminated, or
    ///   the timeout passes; ``EC2Error``.
    public func waitUntilInstanceRunning(instanceId: String, timeout: Duration = .seconds(600),
                                         delay: Duration = .seconds(15)) async throws -> Instance {
        let failed: Set<InstanceState> = [.shuttingDown, .terminated, .stopping, .stopped]
        let waiter = Waiter<Instance>(
            name: "instance \(instanceId) running",
            acceptors: [
                .output(.success) { $0.state == .running },
                .output(.failure) { failed.contains($0.state) },
                .errorCode(.retry, "InvalidInstanceID.NotFound"),
            ],
            delay: delay, timeout: timeout, describe: \.state.rawValue)
        return try await waiter.wait(clock: clock) {
            guard let instance = try await describeInstances(instanceIds: [instanceId]).first else {
                throw EC2Error(status: 400, code: "InvalidInstanceID.NotFound",
                               message: "The instance ID '\(instanceId)' does not exist")
            }
            return instance
        }
    }

    /// Waits until a snapshot is `completed`.
    /// - Parameters:
    ///   - snapshotId: The snapshot.
    ///   - timeout: Longest wait (large volumes take long).
    ///   - delay: Pause between polls.
    /// - Returns: The completed snapshot.
    /// - Throws: ``WaiterError`` when it is in `error` or the timeout passes; ``EC2Error``.
    public func waitUntilSnapshotCompleted(snapshotId: String, timeout: Duration = .seconds(3600),
                                           delay: Duration = .seconds(15)) async throws -> Snapshot {
        let waiter = Waiter<Snapshot>(
            name: "snapshot \(snapshotId) completed",
            acceptors: [
                .output(.success) { $0.state == .completed },
                .output(.failure) { $0.state == .error },
                .errorCode(.retry, "InvalidSnapshot.NotFound"),
            ],
            delay: delay, timeout: timeout, describe: { "\($0.state.rawValue) \($0.progress)" })
        return try await waiter.wait(clock: clock) {
            guard let snapshot = try await describeSnapshots(snapshotIds: [snapshotId]).first else {
                throw EC2Error(status: 400, code: "InvalidSnapshot.NotFound",
                               message: "The snapshot '\(snapshotId)' does not exist")
            }
            return snapshot
        }
    }

    /// One volume by id; an empty answer counts as `InvalidVolume.NotFound`.
    func describeVolume(_ volumeId: String) async throws -> Volume {
        guard let volume = try await describeVolumes(volumeIds: [volumeId]).first else {
            throw EC2Error(status: 400, code: "InvalidVolume.NotFound",
                           message: "The volume '\(volumeId)' does not exist.")
        }
        return volume
    }

    static func describeAttachment(_ volume: Volume) -> String {
        let attachments = volume.attachments.map { "\($0.instanceId):\($0.state.rawValue)" }
        return attachments.isEmpty ? volume.state.rawValue
            : "\(volume.state.rawValue) [\(attachments.joined(separator: ", "))]"
    }
}
