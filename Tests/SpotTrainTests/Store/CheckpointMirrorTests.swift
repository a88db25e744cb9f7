import Dispatch
import Foundation
import Testing
import SpotTrain

/// Runs a closure after the batch of one global step (registered after the saver).
private final class AfterStep: Callback {
    let step: Int
    let action: (TrainingContext) -> Void
    init(_ step: Int, _ action: @escaping (TrainingContext) -> Void) {
        self.step = step
        self.action = action
    }
    func batchEnd(_ context: TrainingContext) throws {
        if context.globalStep == step { action(context) }
    }
}

/// Runs a closure at `trainEnd` (registered before the saver, so before it waits for the
/// final upload).
private final class AtTrainEnd: Callback {
    let action: (TrainingContext) -> Void
    init(_ action: @escaping (TrainingContext) -> Void) { self.action = action }
    func trainEnd(_ context: TrainingContext) throws { action(context) }
}

/// ``CheckpointMirror`` with ``ModelCheckpoint`` and alone, against a local directory used as
/// the store and fault-injecting stores around it.
@Suite struct CheckpointMirrorTests {
    static func mirror(_ store: any CheckpointStore, _ local: CheckpointDirectory, keep: Int? = nil, attempts: Int = 3,
                       log: SpotLogLines = SpotLogLines()) -> CheckpointMirror {
        CheckpointMirror(store: store, directory: local, keep: keep, attempts: attempts, retryDelay: .milliseconds(1),
                         logger: log.logger)
    }

    /// Saves the small fixture checkpoint at `step` into `directory`.
    static func save(step: Int, in directory: CheckpointDirectory) throws -> CheckpointFile {
        try directory.save(CheckpointFixtures.small(globalStep: step))
    }

    @Test func everyCheckpointFitWritesIsInTheStoreByteIdentical() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let mirror = Self.mirror(storeDirectory, local)
        defer { mirror.stop() }
        let saver = ModelCheckpoint(directory: local, everySteps: 3, mirror: mirror, logger: .silent)
        let waiter = WaitForEachUpload(saver: saver, mirror: mirror)
        let context = try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16,
                                                                 seed: 7, callbacks: [saver, waiter])
        #expect(context.status == .completed)
        // Steps 3, 6, 9, 12 and the epoch ends 4, 8, 12 (12 written twice).
        let files = try local.list()
        #expect(files.map(\.globalStep) == [3, 4, 6, 8, 9, 12])
        #expect(saver.saveCount == 7)
        for (name, results) in waiter.results {
            for result in results {
                guard case .uploaded(let stored) = result else {
                    Issue.record("\(name): \(result)")
                    continue
                }
                #expect(stored.name == name && stored.location == storeDirectory.location(of: name))
            }
        }
        #expect(waiter.results.values.map(\.count).reduce(0, +) == 7)
        guard case .uploaded(let final)? = saver.finalUpload else {
            Issue.record("final upload: \(String(describing: saver.finalUpload))")
            return
        }
        #expect(final.globalStep == 12)
        #expect(try storeDirectory.list().map(\.name) == files.map(\.name))
        for file in files {
            #expect(try StoreFixtures.bytes(storeDirectory.location(of: file.name)) == StoreFixtures.bytes(file.path),
                    "\(file.name)")
        }
        let statistics = mirror.statistics
        #expect(statistics.uploads == 7 && statistics.failures == 0 && statistics.superseded == 0)
        #expect(statistics.lastUploaded?.name == files.last?.name)
    }

    /// Saves faster than the store takes them: while the first upload is held, every newer
    /// checkpoint replaces the pending one; the first and the last are uploaded, the ones in
    /// between are superseded, and all of training ran while the first upload was held.
    @Test func onlyTheNewestPendingCheckpointIsUploadedAndTrainingNeverWaits() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let gate = Gate()
        let watchdog = HangWatchdog(opening: [gate])
        defer { watchdog.finish() }
        let store = FaultyStore(storeDirectory, putGates: [gate])
        let mirror = Self.mirror(store, local)
        defer { mirror.stop() }
        let saver = ModelCheckpoint(directory: local, everyEpoch: false, everySteps: 1, mirror: mirror, logger: .silent)
        var putsWhenTrainingEnded: [String]?
        var firstPutStarted = false
        // After the step-1 save, wait until its upload has started (so that it is in flight,
        // not pending); at trainEnd, before the saver waits for the final upload, look at what
        // the store has been asked for, then let the held upload go on.
        let started = AfterStep(1) { _ in firstPutStarted = store.putStarted.wait(timeout: .now() + 20) == .success }
        let release = AtTrainEnd { _ in
            putsWhenTrainingEnded = store.putAttempts
            gate.open()
        }
        let context = try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16,
                                                                 seed: 7, callbacks: [release, saver, started])
        #expect(!watchdog.fired, "training or the final wait hung while an upload was held")
        #expect(firstPutStarted)
        #expect(context.status == .completed && context.globalStep == 12)
        let names = (1...12).map { CheckpointDirectory.fileName(forGlobalStep: $0) }
        // All 12 steps trained while the first upload was held, and nothing else was sent.
        #expect(putsWhenTrainingEnded == [names[0]])
        #expect(store.putAttempts == [names[0], names[11]])
        #expect(mirror.wait(for: try #require(local.list().first), timeout: 20) == .uploaded(
            StoredCheckpoint(name: names[0], globalStep: 1, size: try StoreFixtures.bytes(local.filePath(forGlobalStep: 1)).count,
                             location: storeDirectory.location(of: names[0]))))
        for file in try local.list() where file.globalStep > 1 && file.globalStep < 12 {
            #expect(mirror.wait(for: file, timeout: 20) == .superseded, "\(file.name)")
        }
        guard case .uploaded(let final)? = saver.finalUpload else {
            Issue.record("final upload: \(String(describing: saver.finalUpload))")
            return
        }
        #expect(final.name == names[11])
        #expect(try storeDirectory.list().map(\.globalStep) == [1, 12])
        #expect(try StoreFixtures.bytes(storeDirectory.location(of: names[11])) == StoreFixtures.bytes(local.filePath(forGlobalStep: 12)))
        let statistics = mirror.statistics
        #expect(statistics.uploads == 2 && statistics.superseded == 10 && statistics.failures == 0)
    }

    @Test func waitTimesOutWhileTheUploadIsHeldAndReportsItOnceStored() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let gate = Gate()
        let watchdog = HangWatchdog(opening: [gate])
        defer { watchdog.finish() }
        let store = FaultyStore(storeDirectory, putGates: [gate])
        let mirror = Self.mirror(store, local)
        defer { mirror.stop() }
        let file = try Self.save(step: 7, in: local)
        #expect(mirror.wait(for: file, timeout: 0) == .notQueued)
        mirror.enqueue(file)
        #expect(store.putStarted.wait(timeout: .now() + 20) == .success)
        #expect(mirror.wait(for: file, timeout: 0.2) == .timedOut)
        #expect(mirror.wait(for: file, timeout: 0) == .timedOut)
        // A checkpoint never handed over is not waited for.
        let other = CheckpointFile(path: local.filePath(forGlobalStep: 8), name: CheckpointDirectory.fileName(forGlobalStep: 8),
                                   globalStep: 8)
        #expect(mirror.wait(for: other, timeout: 5) == .notQueued)
        gate.open()
        guard case .uploaded(let stored) = mirror.wait(for: file, timeout: 20) else {
            Issue.record("not uploaded after the release: \(mirror.wait(for: file, timeout: 0))")
            return
        }
        #expect(!watchdog.fired)
        #expect(stored.name == file.name && stored.globalStep == 7)
        #expect(try StoreFixtures.bytes(stored.location) == StoreFixtures.bytes(file.path))
        // The result stays available.
        #expect(mirror.wait(for: file) == .uploaded(stored))
    }

    /// The same step saved twice (a step-interval save and the epoch-end save of the same
    /// step): a wait must report the newer file's upload, not the older one's.
    @Test func waitForACheckpointSavedAgainReportsTheNewerUpload() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let first = Gate(), second = Gate()
        let watchdog = HangWatchdog(opening: [first, second])
        defer { watchdog.finish() }
        let store = FaultyStore(storeDirectory, putGates: [first, second])
        let mirror = Self.mirror(store, local)
        defer { mirror.stop() }
        let older = try Self.save(step: 4, in: local, seed: 1)
        mirror.enqueue(older)
        #expect(store.putStarted.wait(timeout: .now() + 20) == .success)
        // Written again while the first upload is held (other content, same name).
        let newer = try Self.save(step: 4, in: local, seed: 2)
        #expect(newer == older)
        mirror.enqueue(newer)
        first.open()
        #expect(store.putStarted.wait(timeout: .now() + 20) == .success)
        // The second upload is held: the newer bytes are not in the store yet.
        #expect(mirror.wait(for: newer, timeout: 0.2) == .timedOut)
        second.open()
        #expect(mirror.wait(for: newer, timeout: 20) == .uploaded(
            StoredCheckpoint(name: newer.name, globalStep: 4, size: try StoreFixtures.bytes(newer.path).count,
                             location: storeDirectory.location(of: newer.name))))
        #expect(try StoreFixtures.bytes(storeDirectory.location(of: newer.name)) == StoreFixtures.bytes(newer.path))
        #expect(!watchdog.fired)
    }

    static func save(step: Int, in directory: CheckpointDirectory, seed: UInt64) throws -> CheckpointFile {
        try directory.save(CheckpointFixtures.small(globalStep: step, seed: seed))
    }

    @Test func storeKeepsTheNewestByStepAndNeverTheOneJustUploaded() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        // The store already holds an older checkpoint, and newer ones (of an earlier, longer
        // run, or damaged ones a resume skipped): those must not push good ones out.
        for step in [1, 50, 60] { _ = try Self.save(step: step, in: storeDirectory) }
        let mirror = Self.mirror(storeDirectory, local, keep: 1)
        defer { mirror.stop() }
        let file = try Self.save(step: 2, in: local)
        mirror.enqueue(file)
        guard case .uploaded = mirror.wait(for: file, timeout: 20) else {
            Issue.record("not uploaded")
            return
        }
        // keep 1 among the steps up to 2: step 2 (just uploaded) stays, step 1 goes; 50 and 60
        // are not ranked.
        let pruned = try StoreFixtures.eventually { try storeDirectory.list().map(\.globalStep) == [2, 50, 60] }
        #expect(pruned, "\((try? storeDirectory.list().map(\.globalStep)) ?? [])")
    }

    @Test func storeKeepAppliesAfterEveryUploadOfAFit() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let mirror = Self.mirror(storeDirectory, local, keep: 2)
        defer { mirror.stop() }
        let saver = ModelCheckpoint(directory: local, everyEpoch: false, everySteps: 2, mirror: mirror, logger: .silent)
        let waiter = WaitForEachUpload(saver: saver, mirror: mirror)
        final class Count: Callback {
            let store: CheckpointDirectory
            var max = 0
            init(_ store: CheckpointDirectory) { self.store = store }
            func batchEnd(_ context: TrainingContext) throws {
                // After each upload has ended, the prune that follows it leaves at most 3
                // objects (the two kept and, until the next prune, the one uploaded next).
                max = Swift.max(max, (try? store.list().count) ?? 0)
            }
        }
        let counter = Count(storeDirectory)
        try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16, seed: 7,
                                                   callbacks: [saver, waiter, counter])
        #expect(counter.max <= 3)
        let pruned = try StoreFixtures.eventually { try storeDirectory.list().map(\.globalStep) == [10, 12] }
        #expect(pruned, "\((try? storeDirectory.list().map(\.globalStep)) ?? [])")
        // The local directory keeps everything (no local keep).
        #expect(try local.list().count == 6)
    }

    @Test(arguments: ["flipped byte", "truncated", "wrong name"])
    func localFileDamagedBeforeItsUploadIsNotUploaded(_ damage: String) throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let log = SpotLogLines()
        let store = FaultyStore(storeDirectory)
        let mirror = Self.mirror(store, local, log: log)
        defer { mirror.stop() }
        let file = try Self.save(step: 3, in: local)
        var bytes = try StoreFixtures.bytes(file.path)
        switch damage {
        case "flipped byte": bytes[bytes.count / 2] ^= 0x01
        case "truncated": bytes.removeLast(100)
        default: bytes = try StoreFixtures.bytes(try Self.save(step: 2, in: local).path)  // step-2 content
        }
        try CheckpointFixtures.write(bytes, to: file.path)
        mirror.enqueue(file)
        guard case .failed(let reason) = mirror.wait(for: file, timeout: 20) else {
            Issue.record("\(damage): \(mirror.wait(for: file, timeout: 0))")
            return
        }
        #expect(reason.contains(file.path) && reason.contains("cannot be read back intact"), "\(reason)")
        #expect(store.putAttempts.isEmpty)
        #expect(try storeDirectory.list().isEmpty)
        #expect(mirror.statistics.failures == 1 && mirror.statistics.uploads == 0)
        #expect(mirror.statistics.lastError == reason)
        #expect(log.contains("error: checkpoint mirror: not uploading"))
        // The next good checkpoint is uploaded as usual.
        let next = try Self.save(step: 4, in: local)
        mirror.enqueue(next)
        guard case .uploaded = mirror.wait(for: next, timeout: 20) else {
            Issue.record("the next checkpoint was not uploaded")
            return
        }
        #expect(mirror.statistics.uploads == 1 && mirror.statistics.failures == 1)
    }

    @Test func localFileRemovedBeforeItsUploadIsSuperseded() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let store = FaultyStore(storeDirectory)
        let mirror = Self.mirror(store, local)
        defer { mirror.stop() }
        let file = try Self.save(step: 3, in: local)
        try FileManager.default.removeItem(atPath: file.path)  // pruned locally before its upload
        mirror.enqueue(file)
        #expect(mirror.wait(for: file, timeout: 20) == .superseded)
        #expect(store.putAttempts.isEmpty)
        #expect(mirror.statistics.superseded == 1 && mirror.statistics.failures == 0)
    }

    @Test func transientFailuresAreRetriedThenUploaded() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let log = SpotLogLines()
        let store = FaultyStore(storeDirectory, unavailablePuts: 2)
        let mirror = Self.mirror(store, local, attempts: 3, log: log)
        defer { mirror.stop() }
        let file = try Self.save(step: 3, in: local)
        mirror.enqueue(file)
        guard case .uploaded(let stored) = mirror.wait(for: file, timeout: 20) else {
            Issue.record("not uploaded: \(mirror.wait(for: file, timeout: 0))")
            return
        }
        #expect(store.putAttempts == [file.name, file.name, file.name])
        #expect(try StoreFixtures.bytes(stored.location) == StoreFixtures.bytes(file.path))
        #expect(mirror.statistics.uploads == 1 && mirror.statistics.failures == 0)
        #expect(log.all.filter { $0.contains("retrying") }.count == 2, "\(log.all)")
        #expect(log.contains("(attempt 1 of 3)") && log.contains("(attempt 2 of 3)"))
    }

    @Test func uploadThatFailsEveryAttemptIsCountedAndTheNextIsUploaded() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let log = SpotLogLines()
        let store = FaultyStore(storeDirectory, unavailablePuts: 3)
        let mirror = Self.mirror(store, local, attempts: 3, log: log)
        defer { mirror.stop() }
        let file = try Self.save(step: 3, in: local)
        mirror.enqueue(file)
        guard case .failed(let reason) = mirror.wait(for: file, timeout: 20) else {
            Issue.record("expected a failure: \(mirror.wait(for: file, timeout: 0))")
            return
        }
        #expect(reason.contains("injected transient failure") && reason.contains(file.name), "\(reason)")
        #expect(store.putAttempts.count == 3)
        #expect(try storeDirectory.list().isEmpty)
        #expect(mirror.statistics.failures == 1 && mirror.statistics.uploads == 0)
        #expect(mirror.statistics.lastError == reason)
        #expect(log.contains("training goes on"))
        let next = try Self.save(step: 6, in: local)
        mirror.enqueue(next)
        guard case .uploaded = mirror.wait(for: next, timeout: 20) else {
            Issue.record("the next checkpoint was not uploaded")
            return
        }
        #expect(mirror.statistics.failures == 1 && mirror.statistics.uploads == 1)
    }

    @Test func refusedUploadIsNotRetried() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let log = SpotLogLines()
        let store = FaultyStore(storeDirectory, refusePuts: true)
        let mirror = Self.mirror(store, local, attempts: 5, log: log)
        defer { mirror.stop() }
        let file = try Self.save(step: 3, in: local)
        mirror.enqueue(file)
        guard case .failed(let reason) = mirror.wait(for: file, timeout: 20) else {
            Issue.record("expected a failure: \(mirror.wait(for: file, timeout: 0))")
            return
        }
        #expect(reason.contains("AccessDenied"), "\(reason)")
        #expect(store.putAttempts == [file.name])
        #expect(!log.contains("retrying"))
        #expect(mirror.statistics.failures == 1)
    }

    @Test func failedFinalUploadIsReportedByModelCheckpoint() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let lines = SpotLogLines()
        let mirror = Self.mirror(FaultyStore(storeDirectory, refusePuts: true), local)
        defer { mirror.stop() }
        let saver = ModelCheckpoint(directory: local, mirror: mirror, logger: lines.logger)
        let context = try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 1, batchSize: 16,
                                                                 seed: 7, callbacks: [saver])
        #expect(context.status == .completed)
        guard case .failed? = saver.finalUpload else {
            Issue.record("final upload: \(String(describing: saver.finalUpload))")
            return
        }
        #expect(lines.contains("the final checkpoint \(local.filePath(forGlobalStep: 4)) is not in \(storeDirectory.location)"))
    }

    @Test func stopDropsThePendingCheckpoint() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let gate = Gate()
        let watchdog = HangWatchdog(opening: [gate])
        defer { watchdog.finish() }
        let store = FaultyStore(storeDirectory, putGates: [gate])
        let mirror = Self.mirror(store, local)
        let held = try Self.save(step: 1, in: local)
        mirror.enqueue(held)
        #expect(store.putStarted.wait(timeout: .now() + 20) == .success)
        let pending = try Self.save(step: 2, in: local)
        mirror.enqueue(pending)
        mirror.stop()
        guard case .failed = mirror.wait(for: pending, timeout: 20) else {
            Issue.record("pending after stop: \(mirror.wait(for: pending, timeout: 0))")
            return
        }
        let late = try Self.save(step: 3, in: local)
        mirror.enqueue(late)
        guard case .failed = mirror.wait(for: late, timeout: 20) else {
            Issue.record("enqueued after stop: \(mirror.wait(for: late, timeout: 0))")
            return
        }
        // The upload in flight still completes.
        gate.open()
        guard case .uploaded = mirror.wait(for: held, timeout: 20) else {
            Issue.record("in flight at stop: \(mirror.wait(for: held, timeout: 0))")
            return
        }
        #expect(store.putAttempts == [held.name])
        #expect(!watchdog.fired)
    }
}
