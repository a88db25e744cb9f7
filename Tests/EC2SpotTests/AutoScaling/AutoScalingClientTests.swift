import EC2Spot
import Foundation
import Testing

@Suite struct AutoScalingClientTests {
    static func jobRequest() -> CreateAutoScalingGroupRequest {
        CreateAutoScalingGroupRequest(
            autoScalingGroupName: "spottrain-job-mnist",
            mixedInstancesPolicy: MixedInstancesPolicy(launchTemplate: LaunchTemplateSpecification(.id("lt-0abc")),
                                                       instanceTypes: ["c7g.large", "m7g.large"]),
            minSize: 0, maxSize: 1, desiredCapacity: 1, subnetIds: ["subnet-1", "subnet-2"],
            tags: [AutoScalingTag(key: "spottrain:job", value: "mnist")])
    }

    @Test func createGroupEncodesMixedPolicySubnetsTagsAndSignsForAutoScaling() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: AutoScalingXMLBodies.empty("CreateAutoScalingGroup"))
        try await AutoScalingTestClient.make(transport).createAutoScalingGroup(Self.jobRequest())
        let request = try #require(transport.requests.first)
        let parameters = ScriptedEC2Transport.parameterList(request)
        let expected: [(String, String)] = [
            ("Action", "CreateAutoScalingGroup"), ("Version", "2011-01-01"),
            ("AutoScalingGroupName", "spottrain-job-mnist"),
            ("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId", "lt-0abc"),
            ("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.Version", "$Latest"),
            ("MixedInstancesPolicy.LaunchTemplate.Overrides.member.1.InstanceType", "c7g.large"),
            ("MixedInstancesPolicy.LaunchTemplate.Overrides.member.2.InstanceType", "m7g.large"),
            ("MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity", "0"),
            ("MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity", "0"),
            ("MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy", "price-capacity-optimized"),
            ("MinSize", "0"), ("MaxSize", "1"), ("DesiredCapacity", "1"),
            ("VPCZoneIdentifier", "subnet-1,subnet-2"), ("CapacityRebalance", "true"),
            ("Tags.member.1.ResourceId", "spottrain-job-mnist"), ("Tags.member.1.ResourceType", "auto-scaling-group"),
            ("Tags.member.1.Key", "spottrain:job"), ("Tags.member.1.Value", "mnist"),
            ("Tags.member.1.PropagateAtLaunch", "true"),
        ]
        #expect(parameters.map { "\($0.0)=\($0.1)" } == expected.map { "\($0.0)=\($0.1)" })
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.contains("/us-east-1/autoscaling/aws4_request"))
        #expect(request.url.absoluteString == "https://autoscaling.us-east-1.amazonaws.com")
    }

    @Test func launchTemplateByNameEncodesTheName() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: AutoScalingXMLBodies.empty("CreateAutoScalingGroup"))
        var request = Self.jobRequest()
        request.mixedInstancesPolicy.launchTemplate = LaunchTemplateSpecification(.name("job-lt"), version: "$Default")
        try await AutoScalingTestClient.make(transport).createAutoScalingGroup(request)
        let parameters = ScriptedEC2Transport.parameters(try #require(transport.requests.first))
        #expect(parameters["MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateName"] == "job-lt")
        #expect(parameters["MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId"] == nil)
        #expect(parameters["MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.Version"] == "$Default")
    }

    @Test func describeGroupsDecodesPolicyInstancesTagsAcrossPages() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: AutoScalingXMLBodies.describeGroups(
            [AutoScalingXMLBodies.group(name: "a", instances: [AutoScalingXMLBodies.instance(id: "i-1")])],
            nextToken: "page2"))
        transport.enqueue(xml: AutoScalingXMLBodies.describeGroups(
            [AutoScalingXMLBodies.group(name: "b", desired: 0, status: "Delete in progress")]))
        let groups = try await AutoScalingTestClient.make(transport).describeAutoScalingGroups(names: ["a", "b"])
        #expect(groups.map(\.autoScalingGroupName) == ["a", "b"])
        let group = groups[0]
        #expect((group.minSize, group.maxSize, group.desiredCapacity) == (0, 1, 1))
        #expect(group.capacityRebalance)
        #expect(group.subnetIds == ["subnet-1", "subnet-2"])
        #expect(group.availabilityZones == ["us-east-1a", "us-east-1b"])
        #expect(group.createdTime == Date(timeIntervalSince1970: 1_717_236_000.123))
        let policy = try #require(group.mixedInstancesPolicy)
        #expect(policy.instanceTypes == ["c7g.large", "m7g.large"])
        #expect(policy.launchTemplate == LaunchTemplateSpecification(launchTemplateId: "lt-0abc",
                                                                     launchTemplateName: "job-lt", version: "$Latest"))
        #expect(policy.instancesDistribution.onDemandBaseCapacity == 0)
        #expect(policy.instancesDistribution.onDemandPercentageAboveBaseCapacity == 0)
        #expect(policy.instancesDistribution.spotAllocationStrategy == "price-capacity-optimized")
        #expect(group.instances == [AutoScalingInstance(
            instanceId: "i-1", instanceType: "c7g.large", availabilityZone: "us-east-1a", lifecycleState: "InService",
            healthStatus: "Healthy",
            launchTemplate: LaunchTemplateSpecification(launchTemplateId: "lt-0abc", launchTemplateName: "job-lt", version: "1"))])
        #expect(group.instances[0].isInService)
        #expect(group.tags == [AutoScalingTag(key: "spottrain:job", value: "mnist", propagateAtLaunch: true),
                               AutoScalingTag(key: "owner", value: "a & b", propagateAtLaunch: false)])
        #expect(group.status == nil)
        #expect(groups[1].status == "Delete in progress")
        #expect(groups[1].instances.isEmpty)
        let first = ScriptedEC2Transport.parameterList(transport.requests[0])
        #expect(first.filter { $0.0.hasPrefix("AutoScalingGroupNames") }.map { "\($0.0)=\($0.1)" }
            == ["AutoScalingGroupNames.member.1=a", "AutoScalingGroupNames.member.2=b"])
        #expect(ScriptedEC2Transport.parameters(transport.requests[1])["NextToken"] == "page2")
    }

    @Test func missingGroupIsNilNotAnError() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: AutoScalingXMLBodies.describeGroups([]))
        #expect(try await AutoScalingTestClient.make(transport).autoScalingGroup(named: "nope") == nil)
    }

    @Test func groupWithoutRequiredSizeIsMalformedResponse() async throws {
        let transport = ScriptedEC2Transport()
        let broken = AutoScalingXMLBodies.group(name: "a").replacingOccurrences(of: "<MaxSize>1</MaxSize>", with: "<MaxSize>x</MaxSize>")
        transport.enqueue(xml: AutoScalingXMLBodies.describeGroups([broken]))
        let error = await #expect(throws: EC2Error.self) {
            try await AutoScalingTestClient.make(transport).describeAutoScalingGroups()
        }
        #expect(error?.code == EC2Error.malformedResponseCode)
        #expect(error?.message.contains("MaxSize") == true)
    }

    @Test func resizeAndDeleteEncodeTheirParameters() async throws {
        let transport = ScriptedEC2Transport()
        for action in ["UpdateAutoScalingGroup", "SetDesiredCapacity", "DeleteAutoScalingGroup"] {
            transport.enqueue(xml: AutoScalingXMLBodies.empty(action), for: action)
        }
        let client = AutoScalingTestClient.make(transport)
        try await client.updateAutoScalingGroup(name: "g", minSize: 0, maxSize: 1, desiredCapacity: 1)
        try await client.setDesiredCapacity(name: "g", desiredCapacity: 0)
        try await client.deleteAutoScalingGroup(name: "g")
        let lines = transport.requests.map { request in
            ScriptedEC2Transport.parameterList(request).map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        }
        #expect(lines == [
            "Action=UpdateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=g&MinSize=0&MaxSize=1&DesiredCapacity=1",
            "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=g&DesiredCapacity=0&HonorCooldown=false",
            "Action=DeleteAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=g&ForceDelete=true",
        ])
    }

    @Test func unknownGroupIsTypedValidationError() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: AutoScalingXMLBodies.error(
            code: "ValidationError", message: "AutoScalingGroup name not found - AutoScalingGroup 'g' not found"))
        let error = await #expect(throws: EC2Error.self) {
            try await AutoScalingTestClient.make(transport).deleteAutoScalingGroup(name: "g")
        }
        #expect(error?.code == "ValidationError")
        #expect(error?.isAutoScalingGroupNotFound == true)
        #expect(error?.isAlreadyExists == false)
        #expect(error?.requestId == "req-err")
        #expect(transport.requests.count == 1)
    }

    @Test func duplicateGroupIsTypedAlreadyExists() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: AutoScalingXMLBodies.error(
            code: "AlreadyExists", message: "AutoScalingGroup by this name already exists - A group with the name spottrain-job-mnist already exists"))
        let error = await #expect(throws: EC2Error.self) {
            try await AutoScalingTestClient.make(transport).createAutoScalingGroup(Self.jobRequest())
        }
        #expect(error?.isAlreadyExists == true)
        #expect(error?.isAutoScalingGroupNotFound == false)
    }

    @Test func throttlingIsRetriedWithBackoffThenSucceeds() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: AutoScalingXMLBodies.error(code: "Throttling", message: "Rate exceeded"))
        transport.enqueue(xml: AutoScalingXMLBodies.empty("SetDesiredCapacity"))
        let clock = EC2TestClock()
        try await AutoScalingTestClient.make(transport, clock: clock).setDesiredCapacity(name: "g", desiredCapacity: 0)
        #expect(transport.requests.count == 2)
        #expect(clock.sleeps == [.milliseconds(500)])
    }

    @Test func errorMessagesCarryNoSecret() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: AutoScalingXMLBodies.error(
            code: "ValidationError", message: "bad request signed with \(EC2TestClient.credentials.secretAccessKey)"))
        let error = await #expect(throws: EC2Error.self) {
            try await AutoScalingTestClient.make(transport).setDesiredCapacity(name: "g", desiredCapacity: 1)
        }
        #expect(error?.message.contains(EC2TestClient.credentials.secretAccessKey) == false)
        #expect(error.map { "\($0)" }?.contains(EC2TestClient.credentials.secretAccessKey) == false)
    }

    @Test func wrongResponseElementIsMalformed() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: AutoScalingXMLBodies.empty("DeleteAutoScalingGroup"))
        let error = await #expect(throws: EC2Error.self) {
            try await AutoScalingTestClient.make(transport).setDesiredCapacity(name: "g", desiredCapacity: 1)
        }
        #expect(error?.code == EC2Error.malformedResponseCode)
    }

    @Test func scalingActivitiesDecodeAcrossPages() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: AutoScalingXMLBodies.describeActivities([AutoScalingXMLBodies.activity(id: "a1")],
                                                                        nextToken: "n2"))
        transport.enqueue(xml: AutoScalingXMLBodies.describeActivities(
            [AutoScalingXMLBodies.activity(id: "a2", status: "InProgress", end: false)]))
        let activities = try await AutoScalingTestClient.make(transport).describeScalingActivities(groupName: "job")
        #expect(activities.map(\.activityId) == ["a1", "a2"])
        #expect(activities[0].statusCode == "Successful")
        #expect(activities[0].description == "Launching a new EC2 instance: i-0a1")
        #expect(activities[0].cause.contains("difference between desired and actual capacity"))
        #expect(activities[0].startTime == Date(timeIntervalSince1970: 1_717_236_000))
        #expect(activities[0].endTime == Date(timeIntervalSince1970: 1_717_236_090))
        #expect(activities[1].endTime == nil)
        #expect(ScriptedEC2Transport.parameters(transport.requests[0])["AutoScalingGroupName"] == "job")
        #expect(ScriptedEC2Transport.parameters(transport.requests[1])["NextToken"] == "n2")
    }

    @Test func endpointComesFromAutoScalingVariableThenGeneric() throws {
        let credentials = StaticCredentialsProvider(EC2TestClient.credentials)
        let specific = AWSEnvironment(variables: ["AWS_REGION": "eu-west-1",
                                                  "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                                                  "AWS_ENDPOINT_URL_AUTO_SCALING": "http://127.0.0.1:2",
                                                  "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"])
        #expect(try AutoScalingClient(environment: specific, credentialsProvider: credentials).endpoint.absoluteString
            == "http://127.0.0.1:2")
        let generic = AWSEnvironment(variables: ["AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                                                 "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"])
        #expect(try AutoScalingClient(environment: generic, credentialsProvider: credentials).endpoint.absoluteString
            == "http://127.0.0.1:1")
        let none = AWSEnvironment(variables: ["AWS_REGION": "eu-west-1",
                                              "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"])
        let client = try AutoScalingClient(environment: none, credentialsProvider: credentials)
        #expect(client.endpoint.absoluteString == "https://autoscaling.eu-west-1.amazonaws.com")
        #expect(client.region == "eu-west-1")
    }
}
