import EC2Spot
import Foundation
import Testing

/// Moves that die after each AWS call, stale snapshots and concurrent runs, against moto.
///
/// "Training progress" is the tag `test:progress` on the attached volume: the test bumps it
/// after every successful `ensureAttached`, and a move copies it to the copy (as the
/// snapshot copies the data). The attached volume must always carry the highest value.
@Suite(.serialized, .enabled(if: Moto.endpoint != nil,
                "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct PersistentVolumeMotoTests {
    typealias Key = VolumeLineage.Key
    let zoneA = "us-east-1a"
    let zoneB = "us-east-1b"
    var endpoint: URL { Moto.endpoint! }

    /// One session for the whole suite (a URLSession per client would pile up threads).
    static let shared = AsyncHTTPClientTransport.aws()

    func client(failAfter: Int? = nil) -> (EC2Client, FaultInjectingTransport) {
        let transport = FaultInjectingTransport(Self.shared, failAfter: failAfter)
        let client = EC2Client(region: Moto.region, endpoint: endpoint,
                               credentialsProvider: StaticCredentialsProvider(AWSCredentials(accessKeyId: "testing",
                                                                                             secretAccessKey: "testing")),
                               transport: transport, retryPolicy: .none, requestTimeout: .seconds(30))
        return (client, transport)
    }

    func manager(_ client: EC2Client, timeout: Duration = .seconds(20)) -> PersistentVolume {
        PersistentVolume(client: client, volumeTimeout: timeout, pollDelay: .milliseconds(50),
                         settleDelay: .milliseconds(100))
    }

    func ensure(_ manager: PersistentVolume, _ name: String, _ instanceId: String, _ zone: String) async throws
        -> PersistentVolume.Result {
        try await manager.ensureAttached(name: name, sizeGiB: 2, volumeType: "gp3", device: "/dev/xvdf",
                                         instanceId: instanceId, availabilityZone: zone)
    }

    func progress(_ client: EC2Client, _ volumeId: String) async throws -> Int? {
        try await client.describeVolumes(volumeIds: [volumeId]).first?.tags.value(for: "test:progress").flatMap { Int($0) }
    }

    func train(_ client: EC2Client, _ volumeId: String, to step: Int) async throws {
        try await client.createTags(resourceIds: [volumeId], tags: [Tag(key: "test:progress", value: String(step))])
    }

    /// The volumes of the name that exist, and those tagged live.
    func census(_ client: EC2Client, _ name: String) async throws -> (all: [Volume], taggedLive: [String]) {
        let gone: Set<VolumeState> = [.deleting, .deleted]
        let all = try await client.describeVolumes(filters: [Filter.tag("spottrain:volume", name)])
            .filter { !gone.contains($0.state) }
        return (all, all.filter { VolumeLineage.Marking(tags: $0.tags).state == .live }.map(\.volumeId))
    }

    /// A volume created in zone A by one instance, trained to step 1, whose instance is gone.
    func seed(_ client: EC2Client, _ name: String) async throws -> String {
        let first = try await Moto.launch(client, zone: zoneA)
        let created = try await ensure(manager(client), name, first, zoneA)
        #expect(created.action == .created)
        try await train(client, created.volume.volumeId, to: 1)
        _ = try await client.terminateInstances(instanceIds: [first])
        return created.volume.volumeId
    }

    /// How many AWS calls a healthy move from A to B makes.
    func callsOfAMove() async throws -> Int {
        let (healthy, _) = client()
        let name = "calib-\(UUID().uuidString.prefix(8))"
        _ = try await seed(healthy, name)
        let (counting, transport) = client()
        let instance = try await Moto.launch(healthy, zone: zoneB)
        let result = try await ensure(manager(counting), name, instance, zoneB)
        guard case .moved = result.action else { throw MotoTestError("calibration did not move: \(result.action)") }
        _ = try await healthy.terminateInstances(instanceIds: [instance])
        return transport.actions.count
    }

    @Test func aMoveThatDiesAfterAnyCallIsFinishedOrUndoneFromEitherZone() async throws {
        let (healthy, _) = client()
        let calls = try await callsOfAMove()
        #expect(calls > 8, "a move is snapshot, copy, commit, promote, attach: more than 8 calls")
        for failAfter in 1...calls {
            for order in [[zoneA, zoneB], [zoneB, zoneA]] {
                let name = "crash-\(failAfter)-\(order[0].suffix(1))-\(UUID().uuidString.prefix(6))"
                print("sweep: \(name) (dies after call \(failAfter) of \(calls))")
                _ = try await seed(healthy, name)
                let (faulty, transport) = client(failAfter: failAfter)
                let mover = try await Moto.launch(healthy, zone: zoneB)
                await #expect(throws: (any Error).self, "call \(failAfter) of \(calls)") {
                    _ = try await ensure(manager(faulty), name, mover, zoneB)
                }
                #expect(transport.fired)
                _ = try await healthy.terminateInstances(instanceIds: [mover])
                var step = 1
                let during = try await census(healthy, name)
                #expect(during.taggedLive.count <= 1, "after call \(failAfter) (\(transport.actions.last ?? "")): \(during.taggedLive)")
                for zone in order {
                    let instance = try await Moto.launch(healthy, zone: zone)
                    let result = try await ensure(manager(healthy), name, instance, zone)
                    let seen = try await progress(healthy, result.volume.volumeId)
                    #expect(seen == step, "died after call \(failAfter) (\(transport.actions.last ?? "")), then \(zone): attached \(result.volume.volumeId) at step \(seen.map(String.init) ?? "nil"), newest is \(step)")
                    step += 1
                    try await train(healthy, result.volume.volumeId, to: step)
                    let now = try await census(healthy, name)
                    #expect(now.taggedLive == [result.volume.volumeId], "exactly the attached volume is live")
                    #expect(VolumeLineage.decide(now.all).live?.volumeId == result.volume.volumeId)
                    _ = try await healthy.terminateInstances(instanceIds: [instance])
                }
            }
        }
    }

    @Test func aMoveTakesANewSnapshotWhenTheSourceWasUsedAfterTheOldOne() async throws {
        let (healthy, _) = client()
        let name = "stale-\(UUID().uuidString.prefix(8))"
        let source = try await seed(healthy, name)
        // Snapshots taken now hold step 1: one as a move records it, one as the old code did.
        let stale = try await healthy.createSnapshot(
            volumeId: source, tags: [Tag(key: Key.snapshotSource, value: source),
                                     Tag(key: Key.snapshotSourceAttached,
                                         value: try await healthy.describeVolumes(volumeIds: [source]).first?
                                            .tags.value(for: Key.attached) ?? "none")])
        let legacy = try await healthy.createSnapshot(volumeId: source, tags: [Tag(key: Key.snapshotSource, value: source)])
        // The volume is used again in its own zone (step 2), then capacity moves to B.
        let again = try await Moto.launch(healthy, zone: zoneA)
        let reused = try await ensure(manager(healthy), name, again, zoneA)
        #expect(reused.volume.volumeId == source)
        try await train(healthy, source, to: 2)
        _ = try await healthy.terminateInstances(instanceIds: [again])
        let mover = try await Moto.launch(healthy, zone: zoneB)
        let moved = try await ensure(manager(healthy), name, mover, zoneB)
        guard case let .moved(from, _, snapshotId) = moved.action else {
            Issue.record("expected a move, got \(moved.action)")
            return
        }
        #expect(from == source)
        #expect(snapshotId != stale.snapshotId, "reused a snapshot taken before the volume was used again")
        #expect(snapshotId != legacy.snapshotId, "reused a snapshot that records no attach token")
        #expect(try await progress(healthy, moved.volume.volumeId) == 2)
        _ = try await healthy.terminateInstances(instanceIds: [mover])
    }

    @Test func aMoveReusesTheSnapshotOfAnInterruptedMoveWhenNothingChangedSince() async throws {
        let (healthy, _) = client()
        let name = "reuse-\(UUID().uuidString.prefix(8))"
        _ = try await seed(healthy, name)
        // Find the call that is CreateSnapshot, and die right after it.
        var snapshotCall = 0
        do {
            let (counting, countingTransport) = client()
            let probeName = "reuse-probe-\(UUID().uuidString.prefix(8))"
            _ = try await seed(healthy, probeName)
            let probe = try await Moto.launch(healthy, zone: zoneB)
            _ = try await ensure(manager(counting), probeName, probe, zoneB)
            snapshotCall = (countingTransport.actions.firstIndex(of: "CreateSnapshot") ?? -1) + 1
            _ = try await healthy.terminateInstances(instanceIds: [probe])
        }
        #expect(snapshotCall > 0)
        let (dying, _) = client(failAfter: snapshotCall)
        let first = try await Moto.launch(healthy, zone: zoneB)
        await #expect(throws: (any Error).self) { _ = try await ensure(manager(dying), name, first, zoneB) }
        _ = try await healthy.terminateInstances(instanceIds: [first])
        let (counting, countingTransport) = client()
        let second = try await Moto.launch(healthy, zone: zoneB)
        let moved = try await ensure(manager(counting), name, second, zoneB)
        guard case .moved = moved.action else {
            Issue.record("expected a move, got \(moved.action)")
            return
        }
        #expect(!countingTransport.actions.contains("CreateSnapshot"), "the fresh snapshot was not reused")
        _ = try await healthy.terminateInstances(instanceIds: [second])
    }

    @Test(arguments: [true, false])
    func twoConcurrentRunsForOneNameLeaveOneVolume(sameZone: Bool) async throws {
        let (healthy, _) = client()
        let name = "race-\(sameZone)-\(UUID().uuidString.prefix(8))"
        let one = try await Moto.launch(healthy, zone: zoneA)
        let two = try await Moto.launch(healthy, zone: sameZone ? zoneA : zoneB)
        let shortWait = manager(healthy, timeout: .seconds(2))
        func outcome(_ instanceId: String, _ zone: String) async -> Result<PersistentVolume.Result, any Error> {
            do { return .success(try await ensure(shortWait, name, instanceId, zone)) } catch { return .failure(error) }
        }
        async let first = outcome(one, zoneA)
        async let second = outcome(two, sameZone ? zoneA : zoneB)
        let results = await [first, second]
        let winners = results.compactMap { try? $0.get() }
        #expect(winners.count == 1, "exactly one run gets the volume: \(results)")
        for case let .failure(error) in results {
            #expect(error as? PersistentVolumeError != nil, "the loser fails clearly: \(error)")
            #expect(String(describing: error).contains("held by instance"))
        }
        let (all, live) = try await census(healthy, name)
        #expect(all.count == 1, "no duplicate left behind: \(all.map { ($0.volumeId, $0.tags) })")
        #expect(live == winners.map { $0.volume.volumeId })
        _ = try await healthy.terminateInstances(instanceIds: [one, two])
    }

    @Test func aReplacementWaitsForTheHolderToLetGo() async throws {
        let (healthy, _) = client()
        let name = "wait-\(UUID().uuidString.prefix(8))"
        let old = try await Moto.launch(healthy, zone: zoneA)
        let held = try await ensure(manager(healthy), name, old, zoneA)
        let replacement = try await Moto.launch(healthy, zone: zoneB)
        let patient = manager(healthy, timeout: .seconds(30))
        async let taken = ensure(patient, name, replacement, zoneB)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await census(healthy, name).all.count == 1, "nothing moves while the holder runs")
        _ = try await healthy.terminateInstances(instanceIds: [old])
        let result = try await taken
        guard case let .moved(from, fromZone, _) = result.action else {
            Issue.record("expected a move once the holder was gone, got \(result.action)")
            return
        }
        #expect(from == held.volume.volumeId)
        #expect(fromZone == zoneA)
        #expect(try await census(healthy, name).taggedLive == [result.volume.volumeId])
        _ = try await healthy.terminateInstances(instanceIds: [replacement])
    }

    @Test func aHolderThatNeverLetsGoFailsTheReplacementAfterTheTimeout() async throws {
        let (healthy, _) = client()
        let name = "hold-\(UUID().uuidString.prefix(8))"
        let old = try await Moto.launch(healthy, zone: zoneA)
        let held = try await ensure(manager(healthy), name, old, zoneA)
        let replacement = try await Moto.launch(healthy, zone: zoneA)
        let error = await #expect(throws: PersistentVolumeError.self) {
            _ = try await ensure(manager(healthy, timeout: .seconds(1)), name, replacement, zoneA)
        }
        #expect(error == .heldByLiveInstance(volumeId: held.volume.volumeId, instanceId: old, state: "running"))
        let volume = try await healthy.describeVolumes(volumeIds: [held.volume.volumeId]).first
        #expect(volume?.attachment(to: old)?.state == .attached, "never stolen from a live instance")
        _ = try await healthy.terminateInstances(instanceIds: [old, replacement])
    }
}
