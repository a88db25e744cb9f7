import EC2Spot
import Foundation
import Testing

/// Runs the Auto Scaling client and the launch-template and spot-price calls against a real
/// moto server (one server serves EC2 and Auto Scaling). Skipped unless
/// `SPOTTRAIN_MOTO_ENDPOINT` points at one on loopback (`eval "$(Scripts/ci/moto.sh start)"`).
///
/// moto 5.2.1 facts these tests rely on or avoid: it launches a group's instances as records
/// at once (all in the first subnet, not marked spot, with an empty `InstanceType` in the
/// group's view); `TerminateInstances` of a group instance launches the replacement within
/// that same call; it records no scaling activities; it serves neither the Pricing API nor
/// real spot prices (its history is a fixed table); and a second `CreateAutoScalingGroup`
/// with a taken name replaces the group instead of answering `AlreadyExists`;
/// `DeleteLaunchTemplate` by an unknown name answers `MissingParameter`; `SetDesiredCapacity`
/// on an unknown group answers HTTP 500 with an HTML page.
@Suite(.enabled(if: Moto.endpoint != nil,
                "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct MotoAutoScalingIntegrationTests {
    var endpoint: URL { Moto.endpoint! }

    func autoScaling() -> AutoScalingClient {
        AutoScalingClient(region: Moto.region, endpoint: endpoint,
                          credentialsProvider: StaticCredentialsProvider(AWSCredentials(accessKeyId: "testing",
                                                                                        secretAccessKey: "testing")),
                          transport: AsyncHTTPClientTransport.aws(), requestTimeout: .seconds(30))
    }

    /// The default subnets of us-east-1a and us-east-1b, through boto3 (EC2Client has no
    /// DescribeSubnets).
    func defaultSubnets() throws -> [String] {
        try Moto.boto3("""
            subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]},
                {"Name": "availability-zone", "Values": ["us-east-1a", "us-east-1b"]}])["Subnets"]
            print(json.dumps([s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]))
            """, endpoint: endpoint, as: [String].self)
    }

    @Test func groupRelaunchesATerminatedInstanceAndScalesToZero() async throws {
        let ec2 = Moto.client(endpoint)
        let asg = autoScaling()
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let templateName = "spottrain-lt-\(suffix)"
        let groupName = "spottrain-job-\(suffix)"
        let subnets = try defaultSubnets()
        try #require(subnets.count == 2)

        #expect(try await ec2.launchTemplate(named: templateName) == nil)
        let userData = "#!/bin/sh\nexec spottrain job run --store s3://bucket/\(suffix)\n"
        let template = try await ec2.createLaunchTemplate(CreateLaunchTemplateRequest(
            launchTemplateName: templateName,
            launchTemplateData: LaunchTemplateData(
                imageId: Moto.image, userData: userData,
                tagSpecifications: [TagSpecification(resourceType: "instance", tags: [Tag(key: "spottrain:job", value: suffix)])]),
            tags: [Tag(key: "spottrain:job", value: suffix)]))
        #expect(template.launchTemplateName == templateName)
        #expect(try await ec2.launchTemplate(named: templateName)?.launchTemplateId == template.launchTemplateId)
        let version = try #require(try await ec2.describeLaunchTemplateVersions(.id(template.launchTemplateId),
                                                                                versions: ["$Latest"]).first)
        #expect(version.launchTemplateData.userData == userData)
        #expect(version.launchTemplateData.imageId == Moto.image)
        #expect(version.launchTemplateData.metadataOptions?.httpTokens == .required)
        let duplicate = await #expect(throws: EC2Error.self) {
            _ = try await ec2.createLaunchTemplate(CreateLaunchTemplateRequest(
                launchTemplateName: templateName, launchTemplateData: LaunchTemplateData(imageId: Moto.image)))
        }
        #expect(duplicate?.isAlreadyExists == true)

        try await asg.createAutoScalingGroup(CreateAutoScalingGroupRequest(
            autoScalingGroupName: groupName,
            mixedInstancesPolicy: MixedInstancesPolicy(launchTemplate: LaunchTemplateSpecification(.id(template.launchTemplateId)),
                                                       instanceTypes: ["t3.micro", "t3.small"]),
            minSize: 0, maxSize: 1, desiredCapacity: 1, subnetIds: subnets,
            tags: [AutoScalingTag(key: "spottrain:job", value: suffix)]))

        let group = try #require(try await asg.autoScalingGroup(named: groupName))
        #expect((group.minSize, group.maxSize, group.desiredCapacity) == (0, 1, 1))
        #expect(group.capacityRebalance)
        #expect(group.subnetIds == subnets)
        #expect(Set(group.availabilityZones) == ["us-east-1a", "us-east-1b"])
        let policy = try #require(group.mixedInstancesPolicy)
        #expect(policy.instanceTypes == ["t3.micro", "t3.small"])
        #expect(policy.launchTemplate.launchTemplateId == template.launchTemplateId)
        #expect(policy.launchTemplate.version == "$Latest")
        #expect(policy.instancesDistribution == .allSpot)
        #expect(group.tags.contains(AutoScalingTag(key: "spottrain:job", value: suffix, propagateAtLaunch: true)))
        let first = try #require(group.instances.first)
        #expect(group.instances.count == 1)
        #expect(first.isInService)

        let described = try #require(try await ec2.describeInstances(instanceIds: [first.instanceId]).first)
        #expect(described.state == .running)
        #expect(described.availabilityZone == first.availabilityZone)
        #expect(described.tags.value(for: "spottrain:job") == suffix)

        // An interruption, as moto can play it: the instance goes, the group replaces it.
        _ = try await ec2.terminateInstances(instanceIds: [first.instanceId])
        let replaced = try #require(try await asg.autoScalingGroup(named: groupName))
        #expect(replaced.desiredCapacity == 1)
        #expect(replaced.instances.count == 1)
        let second = try #require(replaced.instances.first)
        #expect(second.instanceId != first.instanceId)
        #expect(second.isInService)
        #expect(try await ec2.describeInstances(instanceIds: [first.instanceId]).first?.state == .terminated)
        _ = try await asg.describeScalingActivities(groupName: groupName)

        try await asg.setDesiredCapacity(name: groupName, desiredCapacity: 0)
        let drained = try #require(try await asg.autoScalingGroup(named: groupName))
        #expect(drained.desiredCapacity == 0)
        #expect(drained.instances.isEmpty)

        try await asg.updateAutoScalingGroup(name: groupName, minSize: 0, maxSize: 1, desiredCapacity: 1)
        #expect(try await asg.autoScalingGroup(named: groupName)?.instances.count == 1)

        try await asg.deleteAutoScalingGroup(name: groupName, forceDelete: true)
        #expect(try await asg.autoScalingGroup(named: groupName) == nil)
        let gone = await #expect(throws: EC2Error.self) {
            try await asg.deleteAutoScalingGroup(name: groupName, forceDelete: true)
        }
        #expect(gone?.isAutoScalingGroupNotFound == true)
        #expect(gone?.code == "ValidationError")

        let deleted = try await ec2.deleteLaunchTemplate(.id(template.launchTemplateId))
        #expect(deleted.launchTemplateName == templateName)
        #expect(try await ec2.launchTemplate(named: templateName) == nil)
        // By id: moto 5.2.1 answers `MissingParameter` for an unknown name, AWS a not-found code.
        let missing = await #expect(throws: EC2Error.self) {
            try await ec2.deleteLaunchTemplate(.id(template.launchTemplateId))
        }
        #expect(missing?.isLaunchTemplateNotFound == true)
    }

    @Test func spotPriceHistoryReturnsTypedPoints() async throws {
        let prices = try await Moto.client(endpoint).describeSpotPriceHistory(SpotPriceHistoryRequest(
            instanceTypes: ["t3.micro", "t3.small"]))
        #expect(!prices.isEmpty)
        #expect(Set(prices.map(\.instanceType)).isSubset(of: ["t3.micro", "t3.small"]))
        #expect(prices.allSatisfy { $0.pricePerHour >= 0 && !$0.availabilityZone.isEmpty })
    }
}
