import EC2Spot
import Foundation
import Testing

/// A scripted notice source: each poll takes the next scripted result (the last repeats).
private actor ScriptedNoticeSource: SpotNoticeSource {
    enum Step {
        case none
        case action(SpotInstanceAction)
        case failure
    }

    private var actions: [Step]
    private var rebalances: [RebalanceRecommendation?]
    private let rebalanceFails: Bool

    init(actions: [Step], rebalances: [RebalanceRecommendation?] = [nil], rebalanceFails: Bool = false) {
        self.actions = actions
        self.rebalances = rebalances
        self.rebalanceFails = rebalanceFails
    }

    func spotInstanceAction() async throws -> SpotInstanceAction? {
        let step = actions.count > 1 ? actions.removeFirst() : actions[0]
        switch step {
        case .none: return nil
        case .action(let action): return action
        case .failure: throw IMDSError(.unexpectedStatus, status: 503, path: "/scripted", message: "scripted failure")
        }
    }

    func rebalanceRecommendation() async throws -> RebalanceRecommendation? {
        if rebalanceFails { throw IMDSError(.transport, path: "/scripted-rebalance", message: "scripted failure") }
        return rebalances.count > 1 ? rebalances.removeFirst() : rebalances[0]
    }
}

/// Collects values from `@Sendable` callbacks.
private final class Collector<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Value] = []
    var values: [Value] { lock.withLock { items } }
    func append(_ value: Value) { lock.withLock { items.append(value) } }
}

/// Waits (yielding) until `condition` holds; records an issue if it never does.
private func eventually(_ what: String, _ condition: () async throws -> Bool) async rethrows {
    for _ in 0..<1000 {
        if try await condition() { return }
        try? await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition never became true: \(what)")
}

@Suite struct InterruptionWatcherTests {
    private let deadline = Date(timeIntervalSince1970: 1_795_953_600)

    @Test func deliversEachDistinctNoticeOnce() async throws {
        let terminate = SpotInstanceAction(action: .terminate, time: deadline)
        let later = SpotInstanceAction(action: .terminate, time: deadline + 60)
        let source = ScriptedNoticeSource(actions: [.none, .action(terminate), .action(terminate), .failure,
                                                    .action(terminate), .action(later), .action(later)])
        let callbacks = Collector<InterruptionNotice>()
        let watcher = InterruptionWatcher(source: source, watchesRebalance: false,
                                          onNotice: { callbacks.append($0) })
        var delivered: [InterruptionNotice] = []
        for _ in 0..<8 { delivered += await watcher.pollOnce() }
        #expect(delivered == [InterruptionNotice(kind: .terminate, time: deadline),
                              InterruptionNotice(kind: .terminate, time: deadline + 60)])
        #expect(callbacks.values == delivered)
        let statistics = watcher.statistics
        #expect(statistics.polls == 8)
        #expect(statistics.failures == 1)
        #expect(statistics.noticesDelivered == 2)
        watcher.stop()
        var streamed: [InterruptionNotice] = []
        for await notice in watcher.notices { streamed.append(notice) }
        #expect(streamed == delivered)
    }

    @Test func reportsFailuresAndKeepsPolling() async throws {
        let action = SpotInstanceAction(action: .stop, time: deadline)
        let source = ScriptedNoticeSource(actions: [.failure, .failure, .failure, .action(action)])
        let failures = Collector<InterruptionWatcher.Failure>()
        let watcher = InterruptionWatcher(source: source, pollInterval: .milliseconds(1),
                                          watchesRebalance: false,
                                          sleep: { _ in await Task.yield() },
                                          onFailure: { failures.append($0) })
        watcher.start()
        var iterator = watcher.notices.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first == InterruptionNotice(kind: .stop, time: deadline))
        #expect(failures.values.map(\.consecutiveFailures) == [1, 2, 3])
        #expect(failures.values.allSatisfy { $0.check == .instanceAction && $0.error is IMDSError })
        watcher.stop()
        #expect(await iterator.next() == nil)
    }

    @Test func failureStreakIsCountedPerEndpoint() async throws {
        // instance-action fails every poll while the rebalance check succeeds: the healthy
        // check must not reset the failing one's streak, so a log that backs off (1, 2, 4, 8…)
        // really backs off.
        let source = ScriptedNoticeSource(actions: [.failure], rebalances: [nil])
        let failures = Collector<InterruptionWatcher.Failure>()
        let watcher = InterruptionWatcher(source: source, onFailure: { failures.append($0) })
        for _ in 0..<9 { await watcher.pollOnce() }
        #expect(failures.values.map(\.consecutiveFailures) == Array(1...9))
        #expect(failures.values.filter(\.isWorthLogging).map(\.consecutiveFailures) == [1, 2, 4, 8])
        #expect(failures.values.map(\.totalFailures) == Array(1...9))
    }

    @Test func eachEndpointKeepsItsOwnStreak() async throws {
        let action = SpotInstanceAction(action: .terminate, time: deadline)
        let source = ScriptedNoticeSource(actions: [.failure, .failure, .none, .failure, .action(action)],
                                          rebalanceFails: true)
        let failures = Collector<InterruptionWatcher.Failure>()
        let watcher = InterruptionWatcher(source: source, onFailure: { failures.append($0) })
        for _ in 0..<5 { await watcher.pollOnce() }
        let actionStreaks = failures.values.filter { $0.check == .instanceAction }.map(\.consecutiveFailures)
        let rebalanceStreaks = failures.values.filter { $0.check == .rebalanceRecommendation }.map(\.consecutiveFailures)
        #expect(actionStreaks == [1, 2, 1])
        #expect(rebalanceStreaks == [1, 2, 3, 4, 5])
    }

    @Test func noticeWithEstimatedTimeIsDeliveredOnce() async throws {
        // Each poll of a document with an unreadable time estimates the deadline anew (the
        // receipt time); that must not make it a new notice every poll.
        let first = SpotInstanceAction(action: .terminate, time: deadline, isTimeEstimated: true, warnings: ["w"])
        let second = SpotInstanceAction(action: .terminate, time: deadline + 5, isTimeEstimated: true, warnings: ["w"])
        let readable = SpotInstanceAction(action: .terminate, time: deadline + 90)
        let source = ScriptedNoticeSource(actions: [.action(first), .action(second), .action(second), .action(readable)])
        let watcher = InterruptionWatcher(source: source, watchesRebalance: false)
        var delivered: [InterruptionNotice] = []
        for _ in 0..<5 { delivered += await watcher.pollOnce() }
        #expect(delivered == [InterruptionNotice(first), InterruptionNotice(readable)])
        #expect(delivered.first?.warnings == ["w"])
    }

    @Test func cancellingRunFinishesTheStream() async throws {
        let source = ScriptedNoticeSource(actions: [.none])
        let watcher = InterruptionWatcher(source: source, pollInterval: .milliseconds(5))
        let task = Task { await watcher.run() }
        await eventually("two polls") { watcher.statistics.polls >= 2 }
        task.cancel()
        await task.value
        #expect(watcher.hasStopped)
        var count = 0
        for await _ in watcher.notices { count += 1 }
        #expect(count == 0)
    }

    @Test func noticeDescribesItselfAsJSONLine() {
        let notice = InterruptionNotice(SpotInstanceAction(action: .hibernate, time: deadline))
        #expect(notice.jsonLine == #"{"kind":"hibernate","time":"2026-11-29T12:00:00Z"}"#)
        #expect(notice.deadline == deadline)
        let rebalance = InterruptionNotice(RebalanceRecommendation(noticeTime: deadline))
        #expect(rebalance.jsonLine == #"{"kind":"rebalance-recommendation","time":"2026-11-29T12:00:00Z"}"#)
        #expect(rebalance.deadline == nil)
        #expect(!rebalance.isInterruption)
    }

    // MARK: - Against the fake IMDS

    @Test func watcherDeliversTriggeredInterruptionFromFakeIMDS() async throws {
        try await withFakeIMDS { imds in
            let client = try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:])
            let callbacks = Collector<InterruptionNotice>()
            let watcher = InterruptionWatcher(source: client, pollInterval: .milliseconds(20),
                                              onNotice: { callbacks.append($0) })
            watcher.start()
            defer { watcher.stop() }
            await eventually("polls before the notice") { watcher.statistics.polls >= 3 }
            #expect(watcher.statistics.noticesDelivered == 0)
            try await imds.control("interrupt", ["action": "terminate", "time": "2026-11-29T12:00:00Z"])
            var iterator = watcher.notices.makeAsyncIterator()
            let notice = await iterator.next()
            #expect(notice == InterruptionNotice(kind: .terminate, time: deadline))
            // Later polls see the same notice and do not deliver it again.
            let pollsAfter = watcher.statistics.polls
            await eventually("more polls") { watcher.statistics.polls >= pollsAfter + 3 }
            #expect(callbacks.values == [InterruptionNotice(kind: .terminate, time: deadline)])
            #expect(watcher.statistics.noticesDelivered == 1)
            try await imds.control("rebalance", ["notice_time": "2026-11-29T11:58:00Z"])
            let rebalance = await iterator.next()
            #expect(rebalance == InterruptionNotice(kind: .rebalanceRecommendation, time: deadline - 120))
        }
    }

    @Test func watcherSurvivesServerErrorsFromFakeIMDS() async throws {
        try await withFakeIMDS { imds in
            let client = try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:])
            let failures = Collector<InterruptionWatcher.Failure>()
            let watcher = InterruptionWatcher(source: client, pollInterval: .milliseconds(20),
                                              onFailure: { failures.append($0) })
            try await imds.control("fail", ["count": 6, "status": 500, "path_prefix": "/latest/meta-data/"])
            try await imds.control("interrupt", ["action": "stop", "in_seconds": 120])
            watcher.start()
            defer { watcher.stop() }
            var iterator = watcher.notices.makeAsyncIterator()
            let notice = try #require(await iterator.next())
            #expect(notice.kind == .stop)
            #expect(failures.values.count == 6)
            #expect(failures.values.allSatisfy { ($0.error as? IMDSError)?.status == 500 })
            #expect(watcher.statistics.failures == 6)
        }
    }

    @Test func watcherSurvivesTimeoutsFromFakeIMDS() async throws {
        try await withFakeIMDS { imds in
            let client = try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:],
                                                    requestTimeout: .milliseconds(300))
            let failures = Collector<InterruptionWatcher.Failure>()
            let watcher = InterruptionWatcher(source: client, pollInterval: .milliseconds(20),
                                              watchesRebalance: false, onFailure: { failures.append($0) })
            // Two requests hang far past the deadline. On a loaded machine a normal request can
            // also miss a deadline this short, so at least two timeouts are expected, and only
            // timeouts: the watcher must go on polling through every one of them.
            try await imds.control("fail", ["count": 2, "hang_seconds": 1.5, "path_prefix": "/latest/meta-data/spot"])
            try await imds.control("interrupt", ["action": "terminate", "in_seconds": 120])
            watcher.start()
            defer { watcher.stop() }
            var iterator = watcher.notices.makeAsyncIterator()
            let notice = try #require(await iterator.next())
            #expect(notice.kind == .terminate)
            #expect(failures.values.count >= 2)
            #expect(failures.values.allSatisfy { ($0.error as? IMDSError)?.isTimeout == true })
        }
    }
}
