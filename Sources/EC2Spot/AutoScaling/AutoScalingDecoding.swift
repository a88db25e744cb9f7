import Foundation

extension EC2Query {
    /// `name.member.1=…&name.member.2=…` (the Auto Scaling list convention).
    mutating func members(_ name: String, _ values: [String]) {
        for (index, value) in values.enumerated() { set("\(name).member.\(index + 1)", value) }
    }

    /// `<prefix>.LaunchTemplateId` or `.LaunchTemplateName`, and `.Version`.
    mutating func launchTemplateSpecification(_ prefix: String, _ specification: LaunchTemplateSpecification) {
        set("\(prefix).LaunchTemplateId", specification.launchTemplateId)
        set("\(prefix).LaunchTemplateName", specification.launchTemplateName)
        set("\(prefix).Version", specification.version)
    }

    /// `MixedInstancesPolicy.LaunchTemplate.…` and `MixedInstancesPolicy.InstancesDistribution.…`.
    mutating func mixedInstancesPolicy(_ policy: MixedInstancesPolicy) {
        let template = "MixedInstancesPolicy.LaunchTemplate"
        launchTemplateSpecification("\(template).LaunchTemplateSpecification", policy.launchTemplate)
        for (index, type) in policy.instanceTypes.enumerated() {
            set("\(template).Overrides.member.\(index + 1).InstanceType", type)
        }
        let distribution = "MixedInstancesPolicy.InstancesDistribution"
        let values = policy.instancesDistribution
        set("\(distribution).OnDemandAllocationStrategy", values.onDemandAllocationStrategy)
        set("\(distribution).OnDemandBaseCapacity", values.onDemandBaseCapacity)
        set("\(distribution).OnDemandPercentageAboveBaseCapacity", values.onDemandPercentageAboveBaseCapacity)
        set("\(distribution).SpotAllocationStrategy", values.spotAllocationStrategy)
        set("\(distribution).SpotMaxPrice", values.spotMaxPrice)
    }

    /// `Tags.member.N.Key/Value/PropagateAtLaunch/ResourceId/ResourceType`.
    mutating func autoScalingTags(_ tags: [AutoScalingTag], groupName: String) {
        for (index, tag) in tags.enumerated() {
            let prefix = "Tags.member.\(index + 1)"
            set("\(prefix).ResourceId", groupName)
            set("\(prefix).ResourceType", "auto-scaling-group")
            set("\(prefix).Key", tag.key)
            set("\(prefix).Value", tag.value)
            set("\(prefix).PropagateAtLaunch", tag.propagateAtLaunch)
        }
    }
}

extension EC2XML.Element {
    /// The `<member>` children of the list element `name` (empty if the list is absent).
    func members(_ name: String) -> [EC2XML.Element] {
        child(name)?.children.filter { $0.name == "member" } ?? []
    }
}

/// Decoding of Auto Scaling's response elements (capitalised names, `<member>` lists).
enum AutoScalingDecoding {
    static func group(_ xml: EC2XML.Element) throws -> AutoScalingGroup {
        AutoScalingGroup(
            autoScalingGroupName: try xml.required("AutoScalingGroupName"),
            autoScalingGroupARN: xml.text("AutoScalingGroupARN") ?? "",
            minSize: try integer(xml, "MinSize"),
            maxSize: try integer(xml, "MaxSize"),
            desiredCapacity: try integer(xml, "DesiredCapacity"),
            mixedInstancesPolicy: try xml.child("MixedInstancesPolicy").map(mixedInstancesPolicy),
            launchTemplate: xml.child("LaunchTemplate").map(launchTemplate),
            availabilityZones: xml.members("AvailabilityZones").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) },
            vpcZoneIdentifier: xml.text("VPCZoneIdentifier") ?? "",
            instances: try xml.members("Instances").map(instance),
            tags: xml.members("Tags").map { tag in
                AutoScalingTag(key: tag.text("Key") ?? "", value: tag.text("Value") ?? "",
                               propagateAtLaunch: tag.bool("PropagateAtLaunch"))
            },
            capacityRebalance: xml.bool("CapacityRebalance"),
            status: xml.string("Status"),
            createdTime: xml.date("CreatedTime"))
    }

    static func instance(_ xml: EC2XML.Element) throws -> AutoScalingInstance {
        AutoScalingInstance(instanceId: try xml.required("InstanceId"),
                            instanceType: xml.text("InstanceType") ?? "",
                            availabilityZone: xml.text("AvailabilityZone") ?? "",
                            lifecycleState: try xml.required("LifecycleState"),
                            healthStatus: xml.text("HealthStatus") ?? "",
                            launchTemplate: xml.child("LaunchTemplate").map(launchTemplate))
    }

    static func launchTemplate(_ xml: EC2XML.Element) -> LaunchTemplateSpecification {
        LaunchTemplateSpecification(launchTemplateId: xml.string("LaunchTemplateId"),
                                    launchTemplateName: xml.string("LaunchTemplateName"),
                                    version: xml.string("Version"))
    }

    static func mixedInstancesPolicy(_ xml: EC2XML.Element) throws -> MixedInstancesPolicy {
        guard let template = xml.child("LaunchTemplate"),
              let specification = template.child("LaunchTemplateSpecification") else {
            throw EC2Decoding.missing("LaunchTemplate", in: xml.name)
        }
        let distribution = xml.child("InstancesDistribution")
        return MixedInstancesPolicy(
            launchTemplate: launchTemplate(specification),
            instanceTypes: template.members("Overrides").compactMap { $0.string("InstanceType") },
            instancesDistribution: InstancesDistribution(
                onDemandBaseCapacity: distribution?.int("OnDemandBaseCapacity").map { max(0, $0) },
                onDemandPercentageAboveBaseCapacity: distribution?.int("OnDemandPercentageAboveBaseCapacity")
                    .map { min(100, max(0, $0)) },
                spotAllocationStrategy: distribution?.string("SpotAllocationStrategy"),
                onDemandAllocationStrategy: distribution?.string("OnDemandAllocationStrategy"),
                spotMaxPrice: distribution?.string("SpotMaxPrice")))
    }

    static func activity(_ xml: EC2XML.Element) throws -> ScalingActivity {
        ScalingActivity(activityId: try xml.required("ActivityId"),
                        autoScalingGroupName: xml.text("AutoScalingGroupName") ?? "",
                        description: xml.text("Description") ?? "",
                        cause: xml.text("Cause") ?? "",
                        statusCode: xml.text("StatusCode") ?? "",
                        statusMessage: xml.string("StatusMessage"),
                        startTime: xml.date("StartTime"),
                        endTime: xml.date("EndTime"))
    }

    /// A required integer field; a malformed value is a ``EC2Error/malformedResponseCode`` error.
    static func integer(_ xml: EC2XML.Element, _ name: String) throws -> Int {
        let text = try xml.required(name)
        guard let value = Int(text) else {
            throw EC2Error(status: 200, code: EC2Error.malformedResponseCode,
                           message: "response element <\(xml.name)> has a non-integer <\(name)>: "
                               + String(SecretRedactor.processWide.redact(text).prefix(40)))
        }
        return value
    }
}
