import EC2Spot
import Foundation
import Testing

@Suite struct WaiterTests {
    typealias X = EC2XMLBodies

    @Test func volumeAvailableToleratesNotFoundRightAfterCreate() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: X.ec2Error(code: "InvalidVolume.NotFound", message: "The volume 'vol-1' does not exist."))
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "creating")]))
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "available")]))
        let clock = EC2TestClock()
        let volume = try await EC2TestClient.make(transport, clock: clock)
            .waitUntilVolumeAvailable(volumeId: "vol-1", timeout: .seconds(60), delay: .seconds(5))
        #expect(volume.state == .available)
        #expect(transport.requests.count == 3)
        #expect(clock.sleeps == [.seconds(5), .seconds(5)])
    }

    @Test func volumeInErrorStateFailsAtOnce() async {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "error")]))
        let error = await #expect(throws: WaiterError.self) {
            try await EC2TestClient.make(transport).waitUntilVolumeAvailable(volumeId: "vol-1")
        }
        #expect(error?.kind == .failureState)
        #expect(error?.lastState == "error")
        #expect(error?.polls == 1)
    }

    @Test func waiterTimesOutOnTheInjectedClock() async {
        let transport = ScriptedEC2Transport()
        for _ in 0..<10 { transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "creating")]), for: "DescribeVolumes") }
        let clock = EC2TestClock()
        let error = await #expect(throws: WaiterError.self) {
            try await EC2TestClient.make(transport, clock: clock)
                .waitUntilVolumeAvailable(volumeId: "vol-1", timeout: .seconds(20), delay: .seconds(5))
        }
        #expect(error?.kind == .timedOut)
        #expect(error?.lastState == "creating")
        // Polls at t = 0, 5, 10, 15, 20; the next one (25) would pass the deadline.
        #expect(error?.polls == 5)
        #expect(clock.sleeps.count == 4)
    }

    @Test func unmatchedErrorsPropagate() async {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 403, xml: X.ec2Error(code: "UnauthorizedOperation", message: "You are not authorized"))
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport).waitUntilVolumeAvailable(volumeId: "vol-1")
        }
        #expect(error?.code == "UnauthorizedOperation")
    }

    @Test func attachedWaiterWaitsForThisInstance() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-me", state: "attaching")])]))
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-me", state: "attached")])]))
        let volume = try await EC2TestClient.make(transport).waitUntilVolumeAttached(volumeId: "vol-1", instanceId: "i-me")
        #expect(volume.attachment(to: "i-me")?.state == .attached)
        #expect(transport.requests.count == 2)
    }

    @Test func attachedWaiterFailsWhenAnotherInstanceHasIt() async {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-other", state: "attached")])]))
        let error = await #expect(throws: WaiterError.self) {
            try await EC2TestClient.make(transport).waitUntilVolumeAttached(volumeId: "vol-1", instanceId: "i-me")
        }
        #expect(error?.kind == .failureState)
        #expect(error?.lastState == "in-use [i-other:attached]")
    }

    @Test func detachedWaiterSucceedsWhenAvailable() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "in-use", attachments: [
            X.attachment(volumeId: "vol-1", instanceId: "i-old", state: "detaching")])]))
        transport.enqueue(xml: X.describeVolumes([X.volumeItem(id: "vol-1", state: "available")]))
        let volume = try await EC2TestClient.make(transport).waitUntilVolumeDetached(volumeId: "vol-1")
        #expect(volume.attachments.isEmpty)
    }

    @Test func instanceRunningFailsOnTermination() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: X.describeInstances([]))   // eventual consistency: not listed yet
        transport.enqueue(xml: X.describeInstances([X.instanceItem(id: "i-1", state: "pending", code: 0)]))
        transport.enqueue(xml: X.describeInstances([X.instanceItem(id: "i-1", state: "running")]))
        let running = try await EC2TestClient.make(transport).waitUntilInstanceRunning(instanceId: "i-1")
        #expect(running.state == .running)

        let failing = ScriptedEC2Transport()
        failing.enqueue(xml: X.describeInstances([X.instanceItem(id: "i-1", state: "terminated", code: 48)]))
        let error = await #expect(throws: WaiterError.self) {
            try await EC2TestClient.make(failing).waitUntilInstanceRunning(instanceId: "i-1")
        }
        #expect(error?.lastState == "terminated")
    }

    @Test func snapshotCompletedWaitsThroughPending() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: X.describeSnapshots([("snap-1", "vol-1", "pending")]))
        transport.enqueue(xml: X.describeSnapshots([("snap-1", "vol-1", "completed")]))
        let snapshot = try await EC2TestClient.make(transport).waitUntilSnapshotCompleted(snapshotId: "snap-1")
        #expect(snapshot.state == .completed)

        let failing = ScriptedEC2Transport()
        failing.enqueue(xml: X.describeSnapshots([("snap-1", "vol-1", "error")]))
        await #expect(throws: WaiterError.self) {
            try await EC2TestClient.make(failing).waitUntilSnapshotCompleted(snapshotId: "snap-1")
        }
    }

    @Test func genericWaiterAppliesAcceptorsInOrder() async throws {
        let clock = EC2TestClock()
        let counter = Counter()
        let waiter = Waiter<Int>(name: "count", acceptors: [
            .output(.failure) { $0 < 0 },
            .output(.success) { $0 >= 3 },
        ], delay: .seconds(1), timeout: .seconds(100))
        let value = try await waiter.wait(clock: clock.clock) { counter.next() }
        #expect(value == 3)
        #expect(clock.sleeps.count == 2)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }
}
