import EC2Spot
import Foundation
import Testing

/// Compares the parameters the client sends with those botocore's EC2 serializer produces
/// for the same inputs (`Tests/EC2SpotTests/Fixtures/ec2_query_requests.json`, generated
/// by `Scripts/sigv4_vectors.py`).
@Suite struct EC2QueryEncodingTests {
    struct Operation: Decodable { var operation: String; var parameters: [String: String] }
    struct File: Decodable { var operations: [Operation] }

    static func expected(_ name: String) throws -> [String: String] {
        let file = try EC2Fixtures.load("ec2_query_requests.json", as: File.self)
        return try #require(file.operations.first { $0.operation == name }).parameters
    }

    /// Runs `call` against a transport that answers `reply` and returns the parameters sent.
    func sent(_ reply: String, _ call: (EC2Client) async throws -> Void) async throws -> [String: String] {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: reply)
        try await call(EC2TestClient.make(transport))
        return ScriptedEC2Transport.parameters(try #require(transport.requests.last))
    }

    @Test func createVolumeMatchesBotocore() async throws {
        let params = try await sent(EC2XMLBodies.createVolume(id: "vol-1")) {
            _ = try await $0.createVolume(availabilityZone: "us-east-1a", sizeGiB: 50, volumeType: "gp3", iops: 3000,
                                          throughput: 125, encrypted: true, snapshotId: "snap-0123",
                                          tags: [Tag(key: "spottrain:volume", value: "data"),
                                                 Tag(key: "Name", value: "spot data")],
                                          clientToken: "tok-1")
        }
        #expect(params == (try Self.expected("CreateVolume")))
    }

    @Test func attachDetachDeleteMatchBotocore() async throws {
        let attach = try await sent(EC2XMLBodies.attachmentResponse("AttachVolume", volumeId: "vol-1", instanceId: "i-1",
                                                                     state: "attaching")) {
            _ = try await $0.attachVolume(volumeId: "vol-1", instanceId: "i-1", device: "/dev/xvdb")
        }
        #expect(attach == (try Self.expected("AttachVolume")))
        let detach = try await sent(EC2XMLBodies.attachmentResponse("DetachVolume", volumeId: "vol-1", instanceId: "i-1",
                                                                     state: "detaching")) {
            _ = try await $0.detachVolume(volumeId: "vol-1", instanceId: "i-1", force: true)
        }
        #expect(detach == (try Self.expected("DetachVolume")))
        let delete = try await sent(EC2XMLBodies.returnTrue("DeleteVolume")) {
            try await $0.deleteVolume(volumeId: "vol-1")
        }
        #expect(delete == (try Self.expected("DeleteVolume")))
    }

    @Test func describeVolumesSecondPageMatchesBotocore() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.describeVolumes([EC2XMLBodies.volumeItem(id: "vol-1")], nextToken: "page-2"))
        transport.enqueue(xml: EC2XMLBodies.describeVolumes([EC2XMLBodies.volumeItem(id: "vol-2")]))
        let volumes = try await EC2TestClient.make(transport).describeVolumes(
            volumeIds: ["vol-1", "vol-2"],
            filters: [Filter.tag("spottrain:volume", "data"), Filter(name: "status", values: ["available", "in-use"])])
        #expect(volumes.map(\.volumeId) == ["vol-1", "vol-2"])
        #expect(transport.requests.count == 2)
        var first = try Self.expected("DescribeVolumes")
        first["NextToken"] = nil
        #expect(ScriptedEC2Transport.parameters(transport.requests[0]) == first)
        #expect(ScriptedEC2Transport.parameters(transport.requests[1]) == (try Self.expected("DescribeVolumes")))
    }

    @Test func createTagsAndDescribeInstancesMatchBotocore() async throws {
        let tags = try await sent(EC2XMLBodies.returnTrue("CreateTags")) {
            try await $0.createTags(resourceIds: ["vol-1", "snap-1"], tags: [Tag(key: "a", value: "1"), Tag(key: "b", value: "")])
        }
        #expect(tags == (try Self.expected("CreateTags")))
        let describe = try await sent(EC2XMLBodies.describeInstances([EC2XMLBodies.instanceItem(id: "i-1")])) {
            _ = try await $0.describeInstances(instanceIds: ["i-1"],
                                               filters: [Filter(name: "instance-state-name", values: ["running"])])
        }
        #expect(describe == (try Self.expected("DescribeInstances")))
    }

    @Test func runSpotInstancesMatchesBotocore() async throws {
        let script = "#!/bin/sh\n"
        let params = try await sent(EC2XMLBodies.runInstances([EC2XMLBodies.instanceItem(id: "i-9", state: "pending", code: 0)])) {
            let request = RunInstancesRequest(
                imageId: "ami-12c6146b", instanceType: "g5.xlarge", keyName: "me", securityGroupIds: ["sg-1", "sg-2"],
                subnetId: "subnet-1", iamInstanceProfile: .name("spottrain-role"), userData: script,
                availabilityZone: "us-east-1b",
                tagSpecifications: [TagSpecification(resourceType: "instance", tags: [Tag(key: "Name", value: "trainer")])],
                spot: .init(maxPrice: "0.5"), clientToken: "run-1")
            let instances = try await $0.runInstances(request)
            #expect(instances.map(\.instanceId) == ["i-9"])
            #expect(instances.first?.state == .pending)
        }
        #expect(params == (try Self.expected("RunInstances")))
        #expect(Data(base64Encoded: params["UserData"] ?? "") == Data(script.utf8))
    }

    @Test func terminateSnapshotAndZonesMatchBotocore() async throws {
        let terminate = try await sent(EC2XMLBodies.terminateInstances("i-1")) {
            let changes = try await $0.terminateInstances(instanceIds: ["i-1", "i-2"])
            #expect(changes.first?.currentState == .shuttingDown)
            #expect(changes.first?.previousState == .running)
        }
        #expect(terminate == (try Self.expected("TerminateInstances")))
        let snapshot = try await sent(EC2XMLBodies.createSnapshot(id: "snap-1", volumeId: "vol-1")) {
            _ = try await $0.createSnapshot(volumeId: "vol-1", description: "move data",
                                            tags: [Tag(key: "spottrain:volume", value: "data")])
        }
        #expect(snapshot == (try Self.expected("CreateSnapshot")))
        let snapshots = try await sent(EC2XMLBodies.describeSnapshots([("snap-1", "vol-1", "completed")])) {
            _ = try await $0.describeSnapshots(snapshotIds: ["snap-1"])
        }
        #expect(snapshots == (try Self.expected("DescribeSnapshots")))
        let zonesXML = """
            <DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
              <requestId>r-1</requestId>
              <availabilityZoneInfo>
                <item><zoneName>us-east-1a</zoneName><zoneState>available</zoneState>
                  <regionName>us-east-1</regionName><zoneId>use1-az6</zoneId><messageSet/></item>
              </availabilityZoneInfo>
            </DescribeAvailabilityZonesResponse>
            """
        let zones = try await sent(zonesXML) {
            let zones = try await $0.describeAvailabilityZones(zoneNames: ["us-east-1a"])
            #expect(zones == [AvailabilityZone(zoneName: "us-east-1a", zoneId: "use1-az6", state: "available",
                                               regionName: "us-east-1")])
        }
        #expect(zones == (try Self.expected("DescribeAvailabilityZones")))
    }

    @Test func requestIsSignedFormPost() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.returnTrue("DeleteVolume"))
        let clock = EC2TestClock(start: Date(timeIntervalSince1970: 1_704_164_645)) // 2024-01-02T03:04:05Z
        try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        let request = try #require(transport.requests.first)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "https://ec2.us-east-1.amazonaws.com")
        #expect(request.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(request.headers["x-amz-date"] == "20240102T030405Z")
        #expect(request.headers["host"] == "ec2.us-east-1.amazonaws.com")
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/20240102/us-east-1/ec2/aws4_request, "
                                        + "SignedHeaders=content-type;host;x-amz-date, Signature="))
        #expect(String(decoding: request.body, as: UTF8.self) == "Action=DeleteVolume&Version=2016-11-15&VolumeId=vol-1")
    }
}
