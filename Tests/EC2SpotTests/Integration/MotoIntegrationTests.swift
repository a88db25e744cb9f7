import EC2Spot
import Foundation
import Testing

/// Runs the client against a real moto server. Skipped unless `SPOTTRAIN_MOTO_ENDPOINT`
/// points at one on loopback (`eval "$(Scripts/ci/moto.sh start)"`; `.ci/run` does this).
/// moto answers in final states at once and accepts cross-AZ attaches, so the waiter and
/// AZ logic is covered by the fake-transport suites; here the wire format and a real
/// server's view of the result are checked, the latter independently through boto3.
@Suite(.enabled(if: Moto.endpoint != nil,
                "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct MotoIntegrationTests {
    var endpoint: URL { Moto.endpoint! }

    @Test func volumeLifecycleAgainstMoto() async throws {
        let client = Moto.client(endpoint)
        let name = "lifecycle-\(UUID().uuidString.prefix(8))"
        let instanceId = try await Moto.launch(client, zone: "us-east-1a")
        let running = try await client.waitUntilInstanceRunning(instanceId: instanceId, delay: .milliseconds(200))
        #expect(running.isSpot)
        #expect(running.availabilityZone == "us-east-1a")

        let created = try await client.createVolume(availabilityZone: "us-east-1a", sizeGiB: 8,
                                                    tags: [Tag(key: "spottrain:volume", value: name)],
                                                    clientToken: UUID().uuidString)
        _ = try await client.waitUntilVolumeAvailable(volumeId: created.volumeId, delay: .milliseconds(200))
        let found = try await client.describeVolumes(filters: [Filter.tag("spottrain:volume", name)])
        #expect(found.map(\.volumeId) == [created.volumeId])
        #expect(found.first?.sizeGiB == 8)

        _ = try await client.attachVolume(volumeId: created.volumeId, instanceId: instanceId, device: "/dev/xvdb")
        let attached = try await client.waitUntilVolumeAttached(volumeId: created.volumeId, instanceId: instanceId,
                                                                delay: .milliseconds(200))
        #expect(attached.attachment(to: instanceId)?.device == "/dev/xvdb")
        #expect(try Boto3Volume.fetch([created.volumeId], endpoint: endpoint)[created.volumeId]?.attachedTo == [instanceId])

        _ = try await client.detachVolume(volumeId: created.volumeId, instanceId: instanceId)
        _ = try await client.waitUntilVolumeDetached(volumeId: created.volumeId, delay: .milliseconds(200))
        try await client.createTags(resourceIds: [created.volumeId], tags: [Tag(key: "stage", value: "detached")])
        let checked = try await client.describeVolumes(volumeIds: [created.volumeId]).first
        #expect(checked?.state == .available)
        #expect(checked?.attachments.isEmpty == true)
        #expect(checked?.tags.value(for: "stage") == "detached")

        try await client.deleteVolume(volumeId: created.volumeId)
        let error = await #expect(throws: EC2Error.self) {
            _ = try await client.describeVolumes(volumeIds: [created.volumeId])
        }
        #expect(error?.code == "InvalidVolume.NotFound")
        #expect(error?.status == 400)
        _ = try await client.terminateInstances(instanceIds: [instanceId])
    }

    @Test func ensureAttachedCreatesThenNoOpsThenReattachesThenMoves() async throws {
        let client = Moto.client(endpoint)
        let manager = PersistentVolume(client: client, pollDelay: .milliseconds(200))
        let name = "data-\(UUID().uuidString.prefix(8))"
        func ensure(_ instanceId: String, _ zone: String) async throws -> PersistentVolume.Result {
            try await manager.ensureAttached(name: name, sizeGiB: 10, volumeType: "gp3", device: "/dev/xvdf",
                                             instanceId: instanceId, availabilityZone: zone)
        }

        // 1. Nothing exists: created, tagged, attached.
        let first = try await Moto.launch(client, zone: "us-east-1a")
        let created = try await ensure(first, "us-east-1a")
        #expect(created.action == .created)
        // 2. Second run: no-op.
        let again = try await ensure(first, "us-east-1a")
        #expect(again.action == .alreadyAttached)
        #expect(again.volume.volumeId == created.volume.volumeId)

        // Checked independently with boto3, which then stops the first instance: it dies
        // while still holding the volume (stopped instances keep their attachments).
        let seen = try #require(try Boto3Volume.fetch([created.volume.volumeId], endpoint: endpoint,
                                                      thenStop: first)[created.volume.volumeId])
        #expect(seen.attachedTo == [first])
        #expect(seen.tags["spottrain:volume"] == name)
        #expect(seen.zone == "us-east-1a")

        // 3. A new instance in the same zone takes the volume over.
        let second = try await Moto.launch(client, zone: "us-east-1a")
        let reattached = try await ensure(second, "us-east-1a")
        #expect(reattached.action == .reattached(previousInstanceId: first))
        #expect(reattached.volume.volumeId == created.volume.volumeId)
        #expect(reattached.volume.attachment(to: second)?.state == .attached)

        // 4. That instance is terminated and capacity moves to another zone: the volume is
        //    copied there through a snapshot; the old one is kept and tagged as moved.
        _ = try await client.terminateInstances(instanceIds: [second])
        let third = try await Moto.launch(client, zone: "us-east-1b")
        let moved = try await ensure(third, "us-east-1b")
        guard case .moved(let fromVolumeId, let fromZone, let snapshotId) = moved.action else {
            Issue.record("expected a move, got \(moved.action)")
            return
        }
        #expect(fromVolumeId == created.volume.volumeId)
        #expect(fromZone == "us-east-1a")
        #expect(snapshotId.hasPrefix("snap-"))
        #expect(moved.volume.volumeId != created.volume.volumeId)
        let both = try Boto3Volume.fetch([moved.volume.volumeId, created.volume.volumeId], endpoint: endpoint)
        let copy = try #require(both[moved.volume.volumeId])
        #expect(copy.zone == "us-east-1b")
        #expect(copy.attachedTo == [third])
        #expect(copy.tags["spottrain:volume"] == name)
        let old = try #require(both[created.volume.volumeId])
        #expect(old.tags["spottrain:moved-to"] == moved.volume.volumeId)
        #expect(old.state == "available")

        // 5. And once more: a no-op on the copy.
        #expect(try await ensure(third, "us-east-1b").action == .alreadyAttached)
        _ = try await client.terminateInstances(instanceIds: [first, third])
    }

    @Test func describesAvailabilityZonesAndSnapshots() async throws {
        let client = Moto.client(endpoint)
        let zones = try await client.describeAvailabilityZones()
        #expect(zones.contains { $0.zoneName == "us-east-1a" && $0.regionName == "us-east-1" })
        let volume = try await client.createVolume(availabilityZone: "us-east-1c", sizeGiB: 1)
        let snapshot = try await client.createSnapshot(volumeId: volume.volumeId, description: "a b&c",
                                                       tags: [Tag(key: "k", value: "v=1 & 2")])
        let done = try await client.waitUntilSnapshotCompleted(snapshotId: snapshot.snapshotId, delay: .milliseconds(200))
        #expect(done.volumeId == volume.volumeId)
        #expect(done.description == "a b&c")
        #expect(done.tags.value(for: "k") == "v=1 & 2")
    }
}
