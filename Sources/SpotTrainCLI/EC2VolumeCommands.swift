import ArgumentParser
import EC2Spot
import Foundation

/// The tag that names a SpotTrain volume (``PersistentVolume``'s default).
let ec2VolumeTagKey = "spottrain:volume"

/// `spottrain ec2 ensure-volume`: make sure the named volume is attached to this instance.
struct EC2EnsureVolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensure-volume",
        abstract: "Create, re-attach or move the named EBS volume so that it is attached to this instance.",
        discussion: """
        Idempotent: run it at every boot. Prints {"action": "created" | "attached" | "reattached" | \
        "moved" | "already_attached", "volume_id", "availability_zone", "instance_id", "device", \
        "nvme_device_by_id", …}. A volume held by a live instance is never taken over: this waits, up to \
        --timeout, for that instance to stop or detach it, then fails (exit 1). A live volume in another \
        Availability Zone is copied here through a fresh snapshot; the old one is kept, tagged \
        spottrain:state=moved. Every step of such a move is recoverable: a later run from any zone \
        finishes or undoes it (see Docs/SpotWorkflow.md).
        """
    )

    @OptionGroup var options: EC2Options

    @Option(help: "The volume's name (the value of its spottrain:volume tag).")
    var name: String

    @Option(name: .customLong("size-gib"), help: "Size of a new volume, in GiB.")
    var sizeGiB: Int

    @Option(name: .customLong("volume-type"), help: "Type of a new volume.")
    var volumeType: String = "gp3"

    @Option(help: "Device name to attach at (Nitro instances show it as /dev/nvme*n1).")
    var device: String = "/dev/xvdb"

    @Option(name: .customLong("poll-interval"), help: "Seconds between state checks while waiting.")
    var pollInterval: Double = 5

    @Option(name: .customLong("timeout"), help: "Seconds to wait for each volume state change, and for a live holder to let go.")
    var timeout: Double = 300

    func validate() throws {
        guard !name.isEmpty, name.count <= 256 else { throw ValidationError("--name must have 1…256 characters") }
        guard (1...65_536).contains(sizeGiB) else { throw ValidationError("--size-gib must be in 1…65536") }
        guard !volumeType.isEmpty else { throw ValidationError("--volume-type must not be empty") }
        guard device.hasPrefix("/dev/"), device.count > 5 else {
            throw ValidationError("--device must be a device name such as /dev/xvdb, not '\(device)'")
        }
        _ = try ec2Seconds(pollInterval, option: "--poll-interval")
        _ = try ec2Seconds(timeout, option: "--timeout")
    }

    func run() async throws {
        try await reportingEC2Errors {
            let context = try await options.makeContext()
            let instanceId = try await context.instanceId()
            let zone = try await context.availabilityZone()
            let manager = PersistentVolume(client: context.client, tagKey: ec2VolumeTagKey,
                                           volumeTimeout: try ec2Seconds(timeout, option: "--timeout"),
                                           pollDelay: try ec2Seconds(pollInterval, option: "--poll-interval"))
            let result = try await manager.ensureAttached(name: name, sizeGiB: sizeGiB, volumeType: volumeType,
                                                          device: device, instanceId: instanceId,
                                                          availabilityZone: zone)
            try EC2Output.print(EC2Output.EnsureVolume(result, name: name, instanceId: instanceId,
                                                       requestedDevice: device))
        }
    }
}

/// `spottrain ec2 describe-volumes`: list SpotTrain's volumes.
struct EC2DescribeVolumesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe-volumes",
        abstract: "List the volumes tagged spottrain:volume (or one name, or every volume).",
        discussion: """
        Prints {"volumes": [{"volume_id", "name", "availability_zone", "state", "attachments", "live", \
        "lineage_state", "generation", …}]}. "live" is true for the one volume of each name that \
        ensure-volume attaches (moved, retired, pending and duplicate volumes are false).
        """
    )

    @OptionGroup var options: EC2Options

    @Option(help: "Only the volume(s) with this name.")
    var name: String?

    @Flag(help: "Every volume in the region, not only SpotTrain's.")
    var all = false

    func validate() throws {
        if name != nil && all { throw ValidationError("--name and --all cannot be combined") }
        if let name, name.isEmpty { throw ValidationError("--name must not be empty") }
    }

    struct Listing: Encodable {
        var volumes: [EC2Output.VolumeInfo]
    }

    func run() async throws {
        try await reportingEC2Errors {
            let context = try await options.makeContext()
            let filters: [Filter]
            if let name {
                filters = [Filter.tag(ec2VolumeTagKey, name)]
            } else if all {
                filters = []
            } else {
                filters = [Filter(name: "tag-key", values: [ec2VolumeTagKey])]
            }
            let volumes = try await context.client.describeVolumes(filters: filters)
                .sorted { ($0.createTime ?? .distantPast, $0.volumeId) < ($1.createTime ?? .distantPast, $1.volumeId) }
            try EC2Output.print(Listing(volumes: EC2Output.VolumeInfo.listing(volumes, tagKey: ec2VolumeTagKey)))
        }
    }
}

/// `spottrain ec2 detach-volume`: detach a volume from the instance holding it.
struct EC2DetachVolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detach-volume",
        abstract: "Detach a volume (from --instance-id, else from the instance it is attached to).",
        discussion: """
        Unmount it first. --force is for a dead or stuck instance: data it has not flushed is lost. \
        Prints {"volume_id", "instance_id", "device", "attachment_state", "volume_state", "forced"}.
        """
    )

    @OptionGroup var options: EC2Options

    @Argument(help: "The volume id, vol-….")
    var volumeId: String

    @Flag(help: "Force the detach (for dead or stuck instances; unflushed data is lost).")
    var force = false

    @Flag(help: "Wait until the volume is detached and available.")
    var wait = false

    @Option(name: .customLong("poll-interval"), help: "Seconds between state checks while waiting.")
    var pollInterval: Double = 5

    @Option(name: .customLong("timeout"), help: "Seconds to wait with --wait.")
    var timeout: Double = 300

    func validate() throws {
        guard volumeId.hasPrefix("vol-") else { throw ValidationError("expected a volume id vol-…, not '\(volumeId)'") }
        _ = try ec2Seconds(pollInterval, option: "--poll-interval")
        _ = try ec2Seconds(timeout, option: "--timeout")
    }

    func run() async throws {
        try await reportingEC2Errors {
            let context = try await options.makeContext()
            let instanceId: String
            if let explicit = options.instanceId {
                instanceId = explicit
            } else {
                // Off-instance use is the common case here: detach from whoever holds it.
                let volume = try await context.client.describeVolumes(volumeIds: [volumeId]).first
                guard let attachment = volume?.attachments.first(where: { $0.state != .detached }) else {
                    throw EC2CLIError("volume \(volumeId) is not attached to any instance")
                }
                instanceId = attachment.instanceId
            }
            let attachment = try await context.client.detachVolume(volumeId: volumeId, instanceId: instanceId,
                                                                   force: force)
            var output = EC2Output.DetachVolume(volumeId: volumeId, instanceId: instanceId, device: attachment.device,
                                                attachmentState: attachment.state.rawValue, volumeState: nil,
                                                forced: force)
            if wait {
                let volume = try await context.client.waitUntilVolumeDetached(
                    volumeId: volumeId, timeout: try ec2Seconds(timeout, option: "--timeout"),
                    delay: try ec2Seconds(pollInterval, option: "--poll-interval"))
                output.attachmentState = AttachmentState.detached.rawValue
                output.volumeState = volume.state.rawValue
            }
            try EC2Output.print(output)
        }
    }
}

/// A runtime failure found by the `ec2` commands themselves.
struct EC2CLIError: Error, CustomStringConvertible {
    /// The one-line explanation.
    var description: String
    init(_ description: String) { self.description = description }
}
