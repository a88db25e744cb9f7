import EC2Spot
import Foundation
import Testing

@Suite struct PersistentVolumeTests {
    typealias X = EC2XMLBodies
    let here = "us-east-1a"

    func manager(_ transport: ScriptedEC2Transport, clock: EC2TestClock = EC2TestClock(),
                 volumeTimeout: Duration = .seconds(300)) -> PersistentVolume {
        PersistentVolume(client: EC2TestClient.make(transport, clock: clock), volumeTimeout: volumeTimeout,
                         pollDelay: .seconds(5), makeToken: { "token-1" })
    }

    func volumes(_ items: String...) -> String { X.describeVolumes(items) }

    func attachedHere(_ id: String, az: String = "us-east-1a", tags: [(String, String)] = [("spottrain:volume", "data")]) -> String {
        X.volumeItem(id: id, az: az, state: "in-use",
                     attachments: [X.attachment(volumeId: id, instanceId: "i-me", state: "attached")], tags: tags)
    }

    func ensure(_ pv: PersistentVolume) async throws -> PersistentVolume.Result {
        try await pv.ensureAttached(name: "data", sizeGiB: 100, volumeType: "gp3", device: "/dev/xvdb",
                                    instanceId: "i-me", availabilityZone: here)
    }

    @Test func createsTagsAndAttachesWhenNoneExists() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(), for: "DescribeVolumes")
        transport.enqueue(xml: X.createVolume(id: "vol-new"), for: "CreateVolume")
        // Eventual consistency: the new volume is briefly unknown.
        transport.enqueue(status: 400, xml: X.ec2Error(code: "InvalidVolume.NotFound", message: "The volume 'vol-new' does not exist."), for: "DescribeVolumes")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-new")), for: "DescribeVolumes")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-new", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-new")), for: "DescribeVolumes")

        let result = try await ensure(manager(transport))
        #expect(result.action == .created)
        #expect(result.volume.volumeId == "vol-new")
        #expect(transport.actions == ["DescribeVolumes", "CreateVolume", "DescribeVolumes", "DescribeVolumes",
                                      "AttachVolume", "DescribeVolumes"])
        let search = ScriptedEC2Transport.parameters(transport.requests[0])
        #expect(search["Filter.1.Name"] == "tag:spottrain:volume")
        #expect(search["Filter.1.Value.1"] == "data")
        let create = ScriptedEC2Transport.parameters(transport.requests[1])
        #expect(create["AvailabilityZone"] == here)
        #expect(create["Size"] == "100")
        #expect(create["VolumeType"] == "gp3")
        #expect(create["ClientToken"] == "token-1")
        #expect(create["TagSpecification.1.ResourceType"] == "volume")
        #expect(create["TagSpecification.1.Tag.1.Key"] == "spottrain:volume")
        #expect(create["TagSpecification.1.Tag.1.Value"] == "data")
        let attach = ScriptedEC2Transport.parameters(transport.requests[4])
        #expect(attach["InstanceId"] == "i-me")
        #expect(attach["Device"] == "/dev/xvdb")
        #expect(transport.pending == 0)
    }

    @Test func secondRunIsANoOp() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(attachedHere("vol-1")), for: "DescribeVolumes")
        let result = try await ensure(manager(transport))
        #expect(result.action == .alreadyAttached)
        #expect(result.volume.volumeId == "vol-1")
        #expect(transport.actions == ["DescribeVolumes"])
    }

    @Test func attachesAFreeVolumeInThisZone() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1")), for: "DescribeVolumes")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-1", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-1")), for: "DescribeVolumes")
        let result = try await ensure(manager(transport))
        #expect(result.action == .attached)
        #expect(transport.actions == ["DescribeVolumes", "AttachVolume", "DescribeVolumes"])
    }

    @Test func detachesFromADeadInstanceAndReattaches() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-old", state: "attached")])), for: "DescribeVolumes")
        transport.enqueue(xml: X.describeInstances([X.instanceItem(id: "i-old", state: "terminated", code: 48)]), for: "DescribeInstances")
        transport.enqueue(xml: X.attachmentResponse("DetachVolume", volumeId: "vol-1", instanceId: "i-old", state: "detaching"), for: "DetachVolume")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1")), for: "DescribeVolumes")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-1", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-1")), for: "DescribeVolumes")

        let result = try await ensure(manager(transport))
        #expect(result.action == .reattached(previousInstanceId: "i-old"))
        #expect(transport.actions == ["DescribeVolumes", "DescribeInstances", "DetachVolume", "DescribeVolumes",
                                      "AttachVolume", "DescribeVolumes"])
        let detach = ScriptedEC2Transport.parameters(transport.requests[2])
        #expect(detach["InstanceId"] == "i-old")
        #expect(detach["Force"] == nil)
    }

    @Test func forcesTheDetachWhenAPlainOneHangs() async throws {
        let transport = ScriptedEC2Transport()
        let stuck = X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-old", state: "detaching")])
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-old", state: "busy")])), for: "DescribeVolumes")
        transport.enqueue(status: 400, xml: X.ec2Error(code: "InvalidInstanceID.NotFound", message: "The instance ID 'i-old' does not exist"), for: "DescribeInstances")
        transport.enqueue(xml: X.attachmentResponse("DetachVolume", volumeId: "vol-1", instanceId: "i-old", state: "detaching"), for: "DetachVolume")
        for _ in 0..<3 { transport.enqueue(xml: volumes(stuck), for: "DescribeVolumes") }   // t = 0, 5, 10
        transport.enqueue(xml: X.attachmentResponse("DetachVolume", volumeId: "vol-1", instanceId: "i-old", state: "detaching"), for: "DetachVolume")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1")), for: "DescribeVolumes")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-1", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-1")), for: "DescribeVolumes")

        let result = try await ensure(manager(transport, volumeTimeout: .seconds(10)))
        #expect(result.action == .reattached(previousInstanceId: "i-old"))
        let detaches = transport.requests.filter { ScriptedEC2Transport.parameters($0)["Action"] == "DetachVolume" }
            .map(ScriptedEC2Transport.parameters)
        #expect(detaches.map { $0["Force"] } == [nil, "true"])
        #expect(detaches.allSatisfy { $0["InstanceId"] == "i-old" })
        #expect(transport.pending == 0)
    }

    @Test func refusesToStealFromALiveInstance() async {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-busy", state: "attached")])), for: "DescribeVolumes")
        transport.enqueue(xml: X.describeInstances([X.instanceItem(id: "i-busy", state: "running")]), for: "DescribeInstances")
        let error = await #expect(throws: PersistentVolumeError.self) { try await ensure(manager(transport)) }
        #expect(error == .attachedToLiveInstance(volumeId: "vol-1", instanceId: "i-busy", state: "running"))
        #expect(!transport.actions.contains("DetachVolume"))
    }

    @Test func movesAVolumeFromAnotherZoneThroughASnapshot() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-old", az: "us-east-1b", size: 120)), for: "DescribeVolumes")
        transport.enqueue(xml: X.describeSnapshots([]), for: "DescribeSnapshots")
        transport.enqueue(xml: X.createSnapshot(id: "snap-1", volumeId: "vol-old"), for: "CreateSnapshot")
        transport.enqueue(xml: X.describeSnapshots([("snap-1", "vol-old", "pending")]), for: "DescribeSnapshots")
        transport.enqueue(xml: X.describeSnapshots([("snap-1", "vol-old", "completed")]), for: "DescribeSnapshots")
        transport.enqueue(xml: X.createVolume(id: "vol-new", size: 120, snapshotId: "snap-1"), for: "CreateVolume")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-new", size: 120)), for: "DescribeVolumes")
        transport.enqueue(xml: X.returnTrue("CreateTags"), for: "CreateTags")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-new", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-new")), for: "DescribeVolumes")

        let result = try await ensure(manager(transport))
        #expect(result.action == .moved(fromVolumeId: "vol-old", fromAvailabilityZone: "us-east-1b", snapshotId: "snap-1"))
        #expect(result.volume.volumeId == "vol-new")
        #expect(transport.actions == ["DescribeVolumes", "DescribeSnapshots", "CreateSnapshot", "DescribeSnapshots",
                                      "DescribeSnapshots", "CreateVolume", "DescribeVolumes", "CreateTags",
                                      "AttachVolume", "DescribeVolumes"])
        let params = transport.requests.map(ScriptedEC2Transport.parameters)
        #expect(params[1]["Filter.1.Name"] == "tag:spottrain:source-volume")
        #expect(params[1]["Filter.1.Value.1"] == "vol-old")
        #expect(params[2]["VolumeId"] == "vol-old")
        let create = params[5]
        #expect(create["SnapshotId"] == "snap-1")
        #expect(create["AvailabilityZone"] == here)
        #expect(create["Size"] == "120")  // never smaller than the source
        #expect(create["TagSpecification.1.Tag.1.Key"] == "spottrain:volume")
        #expect(create["TagSpecification.1.Tag.1.Value"] == "data")
        let mark = params[7]
        #expect(mark["ResourceId.1"] == "vol-old")
        #expect(mark["Tag.1.Key"] == "spottrain:moved-to")
        #expect(mark["Tag.1.Value"] == "vol-new")
        #expect(!transport.actions.contains("DeleteVolume"))
    }

    @Test func movedVolumesAreIgnoredAfterwards() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(
            X.volumeItem(id: "vol-old", az: "us-east-1b", tags: [("spottrain:volume", "data"), ("spottrain:moved-to", "vol-new")]),
            attachedHere("vol-new")), for: "DescribeVolumes")
        let result = try await ensure(manager(transport))
        #expect(result.action == .alreadyAttached)
        #expect(result.volume.volumeId == "vol-new")
    }

    @Test func reusesASnapshotFromAnInterruptedMove() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-old", az: "us-east-1c")), for: "DescribeVolumes")
        transport.enqueue(xml: X.describeSnapshots([("snap-9", "vol-old", "completed")]), for: "DescribeSnapshots")
        transport.enqueue(xml: X.createVolume(id: "vol-new", snapshotId: "snap-9"), for: "CreateVolume")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-new")), for: "DescribeVolumes")
        transport.enqueue(xml: X.returnTrue("CreateTags"), for: "CreateTags")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-new", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-new")), for: "DescribeVolumes")
        let result = try await ensure(manager(transport))
        #expect(result.action == .moved(fromVolumeId: "vol-old", fromAvailabilityZone: "us-east-1c", snapshotId: "snap-9"))
        #expect(!transport.actions.contains("CreateSnapshot"))
    }

    @Test func prefersTheVolumeAlreadyAttachedHereOverOlderDuplicates() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: volumes(
            X.volumeItem(id: "vol-older", createTime: "2024-01-01T00:00:00.000Z"),
            attachedHere("vol-mine")), for: "DescribeVolumes")
        let result = try await ensure(manager(transport))
        #expect(result.action == .alreadyAttached)
        #expect(result.volume.volumeId == "vol-mine")
    }
}
