import ArgumentParser
import EC2Spot
import Foundation

/// JSON shapes printed by `spottrain ec2 …` (snake_case keys; stable, new keys may be added).
enum EC2Output {
    /// One attachment of a volume.
    struct Attachment: Encodable {
        var instanceId: String
        var device: String
        var state: String

        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", device, state
        }

        init(_ attachment: VolumeAttachment) {
            instanceId = attachment.instanceId
            device = attachment.device
            state = attachment.state.rawValue
        }
    }

    /// One volume, as `describe-volumes` lists it.
    struct VolumeInfo: Encodable {
        var volumeId: String
        var name: String?
        var availabilityZone: String
        var state: String
        var sizeGiB: Int
        var volumeType: String
        var encrypted: Bool
        var snapshotId: String?
        var createTime: String?
        var attachments: [Attachment]
        var tags: [String: String]
        /// Whether this is the one live volume of its name (``VolumeLineage/decide(_:)``);
        /// false for moved, retired, pending and duplicate volumes and for unnamed ones.
        var live: Bool
        /// The lineage state tag as read (`live`, `pending`, `moved`, `retired`), nil if unnamed.
        var lineageState: String?
        /// The generation, nil if unnamed.
        var generation: Int?

        enum CodingKeys: String, CodingKey {
            case volumeId = "volume_id", name, availabilityZone = "availability_zone", state
            case sizeGiB = "size_gib", volumeType = "volume_type", encrypted, snapshotId = "snapshot_id"
            case createTime = "create_time", attachments, tags, live
            case lineageState = "lineage_state", generation
        }

        init(_ volume: Volume, tagKey: String, live: Bool) {
            self.live = live
            let named = volume.tags.value(for: tagKey) != nil
            let marking = VolumeLineage.Marking(tags: volume.tags)
            lineageState = named ? marking.state.rawValue : nil
            generation = named ? marking.generation : nil
            volumeId = volume.volumeId
            name = volume.tags.value(for: tagKey)
            availabilityZone = volume.availabilityZone
            state = volume.state.rawValue
            sizeGiB = volume.sizeGiB
            volumeType = volume.volumeType
            encrypted = volume.encrypted
            snapshotId = volume.snapshotId
            createTime = volume.createTime.map(EC2Output.timestamp)
            attachments = volume.attachments.map(Attachment.init)
            tags = Dictionary(volume.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(volumeId, forKey: .volumeId)
            try container.encode(name, forKey: .name)
            try container.encode(availabilityZone, forKey: .availabilityZone)
            try container.encode(state, forKey: .state)
            try container.encode(sizeGiB, forKey: .sizeGiB)
            try container.encode(volumeType, forKey: .volumeType)
            try container.encode(encrypted, forKey: .encrypted)
            try container.encode(snapshotId, forKey: .snapshotId)
            try container.encode(createTime, forKey: .createTime)
            try container.encode(attachments, forKey: .attachments)
            try container.encode(tags, forKey: .tags)
            try container.encode(live, forKey: .live)
            try container.encode(lineageState, forKey: .lineageState)
            try container.encode(generation, forKey: .generation)
        }

        /// Describes every volume of `volumes`, deciding the live one per name among the
        /// volumes listed (list a name completely to get its true live volume).
        static func listing(_ volumes: [Volume], tagKey: String) -> [VolumeInfo] {
            let byName = Dictionary(grouping: volumes.filter { $0.tags.value(for: tagKey) != nil },
                                    by: { $0.tags.value(for: tagKey) ?? "" })
            let liveIds = Set(byName.values.compactMap { VolumeLineage.decide($0).live?.volumeId })
            return volumes.map { VolumeInfo($0, tagKey: tagKey, live: liveIds.contains($0.volumeId)) }
        }
    }

    /// The result of `ensure-volume`.
    struct EnsureVolume: Encodable {
        var action: String
        var name: String
        var volumeId: String
        var availabilityZone: String
        var instanceId: String
        var device: String
        /// `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…`: the stable path of the
        /// volume on Nitro (NVMe) instances, whatever device name the kernel picks.
        var nvmeDeviceById: String
        var sizeGiB: Int
        var volumeType: String
        var state: String
        var previousInstanceId: String?
        var movedFromVolumeId: String?
        var movedFromAvailabilityZone: String?
        var snapshotId: String?
        /// True only when this run created the volume, empty (`action` `created`): the one
        /// case in which the boot recipe may put a file system on it.
        var fresh = false

        enum CodingKeys: String, CodingKey {
            case action, fresh, name, volumeId = "volume_id", availabilityZone = "availability_zone"
            case instanceId = "instance_id", device, nvmeDeviceById = "nvme_device_by_id"
            case sizeGiB = "size_gib", volumeType = "volume_type", state
            case previousInstanceId = "previous_instance_id", movedFromVolumeId = "moved_from_volume_id"
            case movedFromAvailabilityZone = "moved_from_availability_zone", snapshotId = "snapshot_id"
        }

        init(_ result: PersistentVolume.Result, name: String, instanceId: String, requestedDevice: String) {
            switch result.action {
            case .alreadyAttached: action = "already_attached"
            case .attached: action = "attached"
            case .created:
                action = "created"
                fresh = true
            case .reattached(let previous):
                action = "reattached"
                previousInstanceId = previous
            case let .moved(fromVolumeId, fromAvailabilityZone, snapshot):
                action = "moved"
                movedFromVolumeId = fromVolumeId
                movedFromAvailabilityZone = fromAvailabilityZone
                snapshotId = snapshot
            }
            self.name = name
            volumeId = result.volume.volumeId
            availabilityZone = result.volume.availabilityZone
            self.instanceId = instanceId
            // The device the volume is really attached at (an earlier run may have used another).
            device = result.volume.attachment(to: instanceId)?.device ?? requestedDevice
            nvmeDeviceById = "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_"
                + result.volume.volumeId.replacingOccurrences(of: "-", with: "")
            sizeGiB = result.volume.sizeGiB
            volumeType = result.volume.volumeType
            state = result.volume.state.rawValue
        }
    }

    /// The result of `detach-volume`.
    struct DetachVolume: Encodable {
        var volumeId: String
        var instanceId: String
        var device: String
        var attachmentState: String
        var volumeState: String?
        var forced: Bool

        enum CodingKeys: String, CodingKey {
            case volumeId = "volume_id", instanceId = "instance_id", device
            case attachmentState = "attachment_state", volumeState = "volume_state", forced
        }
    }

    /// One launched instance.
    struct InstanceInfo: Encodable {
        var instanceId: String
        var state: String
        var availabilityZone: String
        var instanceType: String
        var imageId: String?
        var lifecycle: String?
        var spotInstanceRequestId: String?
        var privateIpAddress: String?
        var publicIpAddress: String?

        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", state, availabilityZone = "availability_zone"
            case instanceType = "instance_type", imageId = "image_id", lifecycle
            case spotInstanceRequestId = "spot_instance_request_id"
            case privateIpAddress = "private_ip_address", publicIpAddress = "public_ip_address"
        }

        init(_ instance: Instance) {
            instanceId = instance.instanceId
            state = instance.state.rawValue
            availabilityZone = instance.availabilityZone
            instanceType = instance.instanceType
            imageId = instance.imageId
            lifecycle = instance.lifecycle
            spotInstanceRequestId = instance.spotInstanceRequestId
            privateIpAddress = instance.privateIpAddress
            publicIpAddress = instance.publicIpAddress
        }
    }

    /// A candidate `launch-spot` had no capacity for before it launched.
    struct LaunchFailure: Encodable {
        var instanceType: String
        var subnetId: String?
        var code: String
        var message: String

        enum CodingKeys: String, CodingKey {
            case instanceType = "instance_type", subnetId = "subnet_id", code, message
        }

        init(_ shortage: LaunchShortage) {
            instanceType = shortage.candidate.instanceType
            subnetId = shortage.candidate.subnetId
            code = shortage.error.code
            message = shortage.error.message
        }
    }

    /// The result of `launch-spot`.
    struct LaunchSpot: Encodable {
        var instanceIds: [String]
        var instances: [InstanceInfo]
        var launchFailures: [LaunchFailure]

        enum CodingKeys: String, CodingKey {
            case instanceIds = "instance_ids", instances, launchFailures = "launch_failures"
        }
    }

    /// `2026-11-29T12:00:00Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// Prints `value` as one line of JSON (sorted keys) on standard output, secrets redacted
    /// (``redactedForOutput(_:)``: values come from servers).
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        FileHandle.standardOutput.write(Data((redactedForOutput(json) + "\n").utf8))
    }
}

/// Runs an `ec2` subcommand body: any error is printed as one line on standard error
/// (`spottrain: error: …`) and becomes exit code 1; exit codes thrown on purpose pass through.
func reportingEC2Errors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError(ec2OneLine(String(describing: error)))
        throw ExitCode(ExitStatus.failure)
    }
}

/// `text` with every run of line breaks and tabs replaced by one space.
func ec2OneLine(_ text: String) -> String {
    text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\t" })
        .joined(separator: " ")
}
