import EC2Spot
import Foundation
import Testing

@Suite struct EC2DecodingTests {
    @Test func describeVolumesDecodesAttachmentsAndTags() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.describeVolumes([
            EC2XMLBodies.volumeItem(id: "vol-0a", state: "in-use", size: 200,
                                    attachments: [EC2XMLBodies.attachment(volumeId: "vol-0a", instanceId: "i-0b",
                                                                          device: "/dev/sdf", state: "attached")],
                                    tags: [("spottrain:volume", "data"), ("Name", "a &amp; b")]),
            EC2XMLBodies.volumeItem(id: "vol-0c", az: "us-east-1b", tags: []),
        ]))
        let volumes = try await EC2TestClient.make(transport).describeVolumes()
        #expect(volumes.count == 2)
        let first = volumes[0]
        #expect(first.volumeId == "vol-0a")
        #expect(first.sizeGiB == 200)
        #expect(first.volumeType == "gp3")
        #expect(first.state == .inUse)
        #expect(first.availabilityZone == "us-east-1a")
        #expect(first.attachments == [VolumeAttachment(volumeId: "vol-0a", instanceId: "i-0b", device: "/dev/sdf",
                                                       state: .attached)])
        #expect(first.tags.value(for: "spottrain:volume") == "data")
        #expect(first.tags.value(for: "Name") == "a & b")
        #expect(first.snapshotId == nil)
        #expect(first.createTime == Date(timeIntervalSince1970: 1_717_239_600))
        #expect(volumes[1].attachments.isEmpty)
        #expect(volumes[1].tags.isEmpty)
        #expect(volumes[1].availabilityZone == "us-east-1b")
    }

    @Test func describeInstancesDecodesSpotLifecycleAcrossPages() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.describeInstances([EC2XMLBodies.instanceItem(id: "i-1")], nextToken: "t2"))
        transport.enqueue(xml: EC2XMLBodies.describeInstances([
            EC2XMLBodies.instanceItem(id: "i-2", state: "stopped", code: 80, az: "us-east-1c", lifecycle: nil),
        ]))
        let instances = try await EC2TestClient.make(transport).describeInstances()
        #expect(instances.map(\.instanceId) == ["i-1", "i-2"])
        #expect(instances[0].isSpot)
        #expect(instances[0].spotInstanceRequestId == "sir-abc123")
        #expect(instances[0].state == .running)
        #expect(instances[0].availabilityZone == "us-east-1a")
        #expect(instances[0].instanceType == "g5.xlarge")
        #expect(instances[0].privateIpAddress == "10.0.0.12")
        #expect(instances[0].publicIpAddress == "3.80.0.1")
        #expect(instances[0].tags == [Tag(key: "Name", value: "trainer")])
        #expect(!instances[1].isSpot)
        #expect(instances[1].state == .stopped)
        #expect(ScriptedEC2Transport.parameters(transport.requests[1])["NextToken"] == "t2")
    }

    @Test func repeatedNextTokenIsAnErrorNotALoop() async throws {
        let transport = ScriptedEC2Transport()
        for _ in 0..<2 {
            transport.enqueue(xml: EC2XMLBodies.describeVolumes([EC2XMLBodies.volumeItem(id: "vol-1")], nextToken: "same"))
        }
        let error = await #expect(throws: EC2Error.self) { try await EC2TestClient.make(transport).describeVolumes() }
        #expect(error?.code == EC2Error.malformedResponseCode)
    }

    @Test func snapshotsDecode() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.describeSnapshots([("snap-1", "vol-1", "pending"), ("snap-2", "vol-1", "completed")]))
        let snapshots = try await EC2TestClient.make(transport).describeSnapshots()
        #expect(snapshots.map(\.state) == [.pending, .completed])
        #expect(snapshots[0].progress == "42%")
        #expect(snapshots[1].volumeSizeGiB == 100)
        #expect(snapshots[1].volumeId == "vol-1")
    }

    @Test func missingRequiredFieldIsMalformedResponse() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: """
            <DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
              <volumeSet><item><size>1</size><status>available</status></item></volumeSet>
            </DescribeVolumesResponse>
            """)
        let error = await #expect(throws: EC2Error.self) { try await EC2TestClient.make(transport).describeVolumes() }
        #expect(error?.code == EC2Error.malformedResponseCode)
        #expect(error?.message.contains("volumeId") == true)
    }
}
