import Foundation

extension EC2XML.Element {
    func int(_ name: String) -> Int? { text(name).flatMap { Int($0) } }
    func bool(_ name: String) -> Bool { text(name) == "true" }
    func date(_ name: String) -> Date? { text(name).flatMap(EC2Decoding.date) }
    func string(_ name: String) -> String? {
        guard let value = text(name), !value.isEmpty else { return nil }
        return value
    }

    /// The text of a field the response must carry.
    func required(_ name: String) throws -> String {
        guard let value = text(name), !value.isEmpty else {
            throw EC2Decoding.missing(name, in: self.name)
        }
        return value
    }

    var tags: [Tag] {
        items("tagSet").map { Tag(key: $0.text("key") ?? "", value: $0.text("value") ?? "") }
    }
}

enum EC2Decoding {
    static func missing(_ field: String, in element: String) -> EC2Error {
        EC2Error(status: 200, code: EC2Error.malformedResponseCode,
                 message: "response element <\(element)> lacks <\(field)>")
    }

    /// ISO 8601 with or without fractional seconds (`2024-01-02T03:04:05.000Z`).
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func volume(_ xml: EC2XML.Element) throws -> Volume {
        Volume(volumeId: try xml.required("volumeId"),
               sizeGiB: xml.int("size") ?? 0,
               volumeType: xml.text("volumeType") ?? "",
               state: VolumeState(rawValue: try xml.required("status")),
               availabilityZone: xml.text("availabilityZone") ?? "",
               attachments: try xml.items("attachmentSet").map(attachment),
               tags: xml.tags,
               snapshotId: xml.string("snapshotId"),
               encrypted: xml.bool("encrypted"),
               createTime: xml.date("createTime"))
    }

    static func attachment(_ xml: EC2XML.Element) throws -> VolumeAttachment {
        VolumeAttachment(volumeId: try xml.required("volumeId"),
                         instanceId: xml.text("instanceId") ?? "",
                         device: xml.text("device") ?? "",
                         state: AttachmentState(rawValue: try xml.required("status")),
                         deleteOnTermination: xml.bool("deleteOnTermination"))
    }

    static func instance(_ xml: EC2XML.Element) throws -> Instance {
        Instance(instanceId: try xml.required("instanceId"),
                 state: InstanceState(rawValue: xml.text("instanceState", "name") ?? ""),
                 availabilityZone: xml.text("placement", "availabilityZone") ?? "",
                 instanceType: xml.text("instanceType") ?? "",
                 imageId: xml.string("imageId"),
                 lifecycle: xml.string("instanceLifecycle"),
                 spotInstanceRequestId: xml.string("spotInstanceRequestId"),
                 privateIpAddress: xml.string("privateIpAddress"),
                 publicIpAddress: xml.string("ipAddress"),
                 launchTime: xml.date("launchTime"),
                 tags: xml.tags,
                 stateReason: xml.child("stateReason").flatMap { reason in
                     reason.string("code").map { StateReason(code: $0, message: reason.text("message") ?? "") }
                 },
                 stateTransitionReason: xml.string("reason"))
    }

    static func snapshot(_ xml: EC2XML.Element) throws -> Snapshot {
        Snapshot(snapshotId: try xml.required("snapshotId"),
                 volumeId: xml.text("volumeId") ?? "",
                 state: SnapshotState(rawValue: try xml.required("status")),
                 progress: xml.text("progress") ?? "",
                 volumeSizeGiB: xml.int("volumeSize") ?? 0,
                 description: xml.text("description") ?? "",
                 startTime: xml.date("startTime"),
                 tags: xml.tags)
    }

    static func availabilityZone(_ xml: EC2XML.Element) throws -> AvailabilityZone {
        AvailabilityZone(zoneName: try xml.required("zoneName"),
                         zoneId: xml.text("zoneId") ?? "",
                         state: xml.text("zoneState") ?? "",
                         regionName: xml.text("regionName") ?? "")
    }

    static func stateChange(_ xml: EC2XML.Element) throws -> InstanceStateChange {
        InstanceStateChange(instanceId: try xml.required("instanceId"),
                            previousState: InstanceState(rawValue: xml.text("previousState", "name") ?? ""),
                            currentState: InstanceState(rawValue: xml.text("currentState", "name") ?? ""))
    }
}
