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

    /// The holder token this manager writes at the test clock's start (makeToken = "token-1").
    let claimToken = "i-me@2024-06-01T12:00:00Z#token-1"

    func attachedHere(_ id: String, az: String = "us-east-1a", tags: [(String, String)] = [("spottrain:volume", "data")]) -> String {
        X.volumeItem(id: id, az: az, state: "in-use",
                     attachments: [X.attachment(volumeId: id, instanceId: "i-me", state: "attached")], tags: tags)
    }

    func ensure(_ pv: PersistentVolume) async throws -> PersistentVolume.Result {
        try await pv.ensureAttached(name: "data", sizeGiB: 100, volumeType: "gp3", device: "/dev/xvdb",
                                    instanceId: "i-me", availabilityZone: here)
    }

    @Test func secondRunIsANoOpThatWritesNothing() async throws {
        let transport = ScriptedEC2Transport()
        let mine = attachedHere("vol-1", tags: [("spottrain:volume", "data"), ("spottrain:state", "live"),
                                                ("spottrain:holder", "i-me@2024-06-01T11:00:00Z#abc")])
        for _ in 0..<4 { transport.enqueue(xml: volumes(mine), for: "DescribeVolumes") }
        let result = try await ensure(manager(transport))
        #expect(result.action == .alreadyAttached)
        #expect(result.volume.volumeId == "vol-1")
        #expect(transport.actions == ["DescribeVolumes", "DescribeVolumes", "DescribeVolumes", "DescribeVolumes"])
        #expect(transport.pending == 0)
    }

    @Test func forcesTheDetachWhenAPlainOneHangs() async throws {
        let transport = ScriptedEC2Transport()
        let busy = [X.attachment(volumeId: "vol-1", instanceId: "i-old", state: "busy")]
        let claimed: [(String, String)] = [("spottrain:volume", "data"), ("spottrain:holder", claimToken)]
        let stuck = X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-old", state: "detaching")], tags: claimed)
        let notFound = X.ec2Error(code: "InvalidInstanceID.NotFound", message: "The instance ID 'i-old' does not exist")
        // Decide, then claim: read, check the holder, tag, settle, read back.
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: busy)), for: "DescribeVolumes")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: busy)), for: "DescribeVolumes")
        transport.enqueue(status: 400, xml: notFound, for: "DescribeInstances")
        transport.enqueue(xml: X.returnTrue("CreateTags"), for: "CreateTags")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: busy, tags: claimed)), for: "DescribeVolumes")
        // Decide again under the claim; detach from the dead instance (plain, then forced).
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", state: "in-use", attachments: busy, tags: claimed)), for: "DescribeVolumes")
        transport.enqueue(status: 400, xml: notFound, for: "DescribeInstances")
        transport.enqueue(xml: X.attachmentResponse("DetachVolume", volumeId: "vol-1", instanceId: "i-old", state: "detaching"), for: "DetachVolume")
        for _ in 0..<3 { transport.enqueue(xml: volumes(stuck), for: "DescribeVolumes") }
        transport.enqueue(xml: X.attachmentResponse("DetachVolume", volumeId: "vol-1", instanceId: "i-old", state: "detaching"), for: "DetachVolume")
        transport.enqueue(xml: volumes(X.volumeItem(id: "vol-1", tags: claimed)), for: "DescribeVolumes")
        // Attach token, attach, wait, and check it is still the live one.
        transport.enqueue(xml: X.returnTrue("CreateTags"), for: "CreateTags")
        transport.enqueue(xml: X.attachmentResponse("AttachVolume", volumeId: "vol-1", instanceId: "i-me", state: "attaching"), for: "AttachVolume")
        transport.enqueue(xml: volumes(attachedHere("vol-1", tags: claimed)), for: "DescribeVolumes")
        transport.enqueue(xml: volumes(attachedHere("vol-1", tags: claimed)), for: "DescribeVolumes")

        let result = try await ensure(manager(transport, volumeTimeout: .seconds(10)))
        #expect(result.action == .reattached(previousInstanceId: "i-old"))
        let params = transport.requests.map(ScriptedEC2Transport.parameters)
        let detaches = params.filter { $0["Action"] == "DetachVolume" }
        #expect(detaches.map { $0["Force"] } == [nil, "true"])
        #expect(detaches.allSatisfy { $0["InstanceId"] == "i-old" })
        let tags = params.filter { $0["Action"] == "CreateTags" }
        #expect(tags.map { $0["Tag.1.Key"] } == ["spottrain:holder", "spottrain:attached"])
        #expect(tags.first?["Tag.1.Value"] == claimToken)
        #expect(transport.pending == 0)
    }

    @Test func waitsForALiveHolderThenFailsWithoutTouchingTheVolume() async {
        let transport = ScriptedEC2Transport()
        let held = X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-busy", state: "attached")])
        for _ in 0..<4 { transport.enqueue(xml: volumes(held), for: "DescribeVolumes") }
        for _ in 0..<3 {
            transport.enqueue(xml: X.describeInstances([X.instanceItem(id: "i-busy", state: "running")]), for: "DescribeInstances")
        }
        let clock = EC2TestClock()
        let error = await #expect(throws: PersistentVolumeError.self) {
            try await ensure(manager(transport, clock: clock, volumeTimeout: .seconds(10)))
        }
        #expect(error == .heldByLiveInstance(volumeId: "vol-1", instanceId: "i-busy", state: "running"))
        #expect(clock.sleeps == [.seconds(5), .seconds(5)], "polled until the timeout")
        #expect(!transport.actions.contains("DetachVolume"))
        #expect(!transport.actions.contains("CreateTags"))
    }
}
