import Foundation
import Synchronization
import Testing
import SpotTrain

/// Raises a request on a flag after a given global step's batch (registered before the
/// ``SpotInterruption`` under test, so that it sees the request after that very batch).
private final class RaiseAfterStep: Callback {
    let step: Int
    let flag: InterruptionFlag
    let request: () -> InterruptionRequest

    init(step: Int, flag: InterruptionFlag, request: @escaping () -> InterruptionRequest) {
        self.step = step
        self.flag = flag
        self.request = request
    }

    func batchEnd(_ context: TrainingContext) throws {
        if context.globalStep == step { flag.raise(request()) }
    }
}

/// The real file system, raising a request on a flag during the `onRename`-th rename (as
/// if the notice arrived in the middle of a save).
private final class RaisingFileSystem: CheckpointFileSystem, @unchecked Sendable {
    private let base = POSIXCheckpointFileSystem()
    private let renames = Mutex(0)
    let flag: InterruptionFlag
    let onRename: Int
    let request: InterruptionRequest

    init(flag: InterruptionFlag, onRename: Int, request: InterruptionRequest) {
        self.flag = flag
        self.onRename = onRename
        self.request = request
    }

    func createFile(atPath path: String) throws -> Int32 { try base.createFile(atPath: path) }
    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws { try base.write(descriptor, bytes) }
    func synchronize(_ descriptor: Int32) throws { try base.synchronize(descriptor) }
    func close(_ descriptor: Int32) throws { try base.close(descriptor) }
    func rename(_ source: String, to destination: String) throws {
        if renames.withLock({ $0 += 1; return $0 }) == onRename { flag.raise(request) }
        try base.rename(source, to: destination)
    }
    func synchronizeDirectory(atPath path: String) throws { try base.synchronizeDirectory(atPath: path) }
    func removeFile(atPath path: String) throws { try base.removeFile(atPath: path) }
    func contentsOfDirectory(atPath path: String) throws -> [String] { try base.contentsOfDirectory(atPath: path) }
    func readFile(atPath path: String) throws -> [UInt8] { try base.readFile(atPath: path) }
    func createDirectory(atPath path: String) throws { try base.createDirectory(atPath: path) }
}

@Suite struct SpotInterruptionTests {
    /// 64 examples at batch 16: 4 steps per epoch, 12 steps in 3 epochs.
    static var train: Dataset { makeToyDataset(count: 64, seed: 5) }

    static func notice(_ kind: InterruptionRequest.Kind = .terminate, deadline: Date?, at now: Date = Date()) -> InterruptionRequest {
        InterruptionRequest(kind: kind, deadline: deadline, detectedAt: now, reason: "test")
    }

    struct Run {
        var context: TrainingContext
        var spot: SpotInterruption
        var directory: CheckpointDirectory
        var log: SpotLogLines
    }

    /// Trains 3 epochs with a checkpoint every `everySteps`, raising `request` after `raiseAt`.
    static func run(in dir: String, everySteps: Int? = nil, raiseAt: Int, fileSystem: any CheckpointFileSystem = POSIXCheckpointFileSystem(),
                    now: @escaping () -> Date = { Date() },
                    flag: InterruptionFlag = InterruptionFlag(),
                    request: @escaping (ModelCheckpoint) -> InterruptionRequest) throws -> Run {
        let directory = CheckpointDirectory(path: dir, fileSystem: fileSystem)
        let log = SpotLogLines()
        let saver = ModelCheckpoint(directory: directory, everyEpoch: false, everySteps: everySteps, logger: log.logger)
        let spot = SpotInterruption(source: flag, checkpoint: saver, now: now, logger: log.logger)
        let raiser = RaiseAfterStep(step: raiseAt, flag: flag, request: { request(saver) })
        let context = try ModelCheckpointTests.makeTrainer().fit(train: train, epochs: 3, batchSize: 16, seed: 7,
                                                                 callbacks: [raiser, spot])
        return Run(context: context, spot: spot, directory: directory, log: log)
    }

    @Test func noticeWritesCheckpointAtCurrentStepAndResumesBitExactly() throws {
        let reference = ModelCheckpointTests.makeTrainer()
        try reference.fit(train: Self.train, epochs: 3, batchSize: 16, seed: 7)
        let expected = reference.model.parameterFingerprintBytes()

        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let run = try Self.run(in: dir, raiseAt: 6) { _ in Self.notice(deadline: Date().addingTimeInterval(120)) }
        #expect(run.context.status == .interrupted)
        #expect(run.context.globalStep == 6)
        let report = try #require(run.spot.report)
        guard case .saved(let file, let seconds) = report.outcome else {
            Issue.record("expected a save, got \(report.outcome)")
            return
        }
        #expect(file.globalStep == 6 && seconds >= 0)
        #expect(report.checkpointIsCurrent && report.outcomeName == "saved")
        #expect(report.checkpoint == file)
        // Only the emergency checkpoint: trainEnd did not save again.
        #expect(try run.directory.list().map(\.globalStep) == [6])

        let loaded = try #require(try run.directory.latestValid().latest)
        let resumed = ModelCheckpointTests.makeTrainer(seed: 99)
        let progress = try TrainingState.restore(loaded.checkpoint, into: resumed, batchSize: 16, trainingCount: 64)
        #expect(progress.globalStep == 6)
        // A notice already pending when the resumed run starts reuses the resumed file.
        let pending = InterruptionFlag()
        pending.raise(Self.notice(deadline: nil))
        let again = SpotInterruption(source: pending, checkpoint: ModelCheckpoint(directory: run.directory, logger: .silent),
                                     resumedCheckpoint: loaded.file, logger: .silent)
        let stopped = try resumed.fit(train: Self.train, epochs: 3, batchSize: 16, seed: 7, callbacks: [again],
                                      resumeFrom: progress)
        #expect(stopped.status == .interrupted && stopped.globalStep == 6)
        #expect(again.report?.outcome == .alreadySaved(loaded.file))
        #expect(try run.directory.list().map(\.globalStep) == [6])

        let context = try resumed.fit(train: Self.train, epochs: 3, batchSize: 16, seed: 7, resumeFrom: progress)
        #expect(context.status == .completed)
        #expect(resumed.model.parameterFingerprintBytes() == expected)
    }

    @Test func noticeDuringARegularSaveReusesIt() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // The notice arrives while the regular step-6 save is renaming its file.
        let flag = InterruptionFlag()
        let fs = RaisingFileSystem(flag: flag, onRename: 2, request: Self.notice(deadline: nil))
        let run = try Self.run(in: dir, everySteps: 3, raiseAt: 0, fileSystem: fs, flag: flag) { _ in Self.notice(deadline: nil) }
        let report = try #require(run.spot.report)
        #expect(report.outcome == .alreadySaved(try #require(run.directory.list().last)))
        #expect(report.checkpointIsCurrent)
        #expect(report.globalStep == 6)
        #expect(try run.directory.list().map(\.globalStep) == [3, 6])
        #expect(run.context.status == .interrupted)
    }

    @Test func noticeJustBeforeADueRegularSaveSavesOnce() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let run = try Self.run(in: dir, everySteps: 3, raiseAt: 6) { _ in Self.notice(deadline: nil) }
        let report = try #require(run.spot.report)
        #expect(report.outcomeName == "saved")
        #expect(try run.directory.list().map(\.globalStep) == [3, 6])
        #expect(run.context.status == .interrupted)
    }

    /// A frozen wall clock: the time left before a deadline is exactly what a test sets.
    static let frozen = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func passedDeadlineStillSavesTheCurrentStepWithAWarning() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let run = try Self.run(in: dir, everySteps: 2, raiseAt: 5, now: { Self.frozen }) { _ in
            Self.notice(deadline: Self.frozen.addingTimeInterval(-30), at: Self.frozen)
        }
        #expect(run.context.status == .interrupted)
        #expect(run.context.globalStep == 5)
        let report = try #require(run.spot.report)
        guard case .saved(let file, _) = report.outcome else {
            Issue.record("expected a save, got \(report.outcome)")
            return
        }
        #expect(file.globalStep == 5)
        #expect(report.checkpointIsCurrent && report.outcomeName == "saved")
        #expect(report.checkpoint == file)
        #expect(report.secondsBeforeDeadline == -30)
        // The emergency checkpoint next to the previous ones, and none after it (not at trainEnd).
        #expect(try run.directory.list().map(\.globalStep) == [2, 4, 5])
        #expect(try run.directory.latestValid().latest?.file.globalStep == 5)
        #expect(run.log.contains("warning: interruption: the deadline passed 30.0 s ago but this process is still running"))
        #expect(run.log.contains("saving anyway"))
        #expect(run.log.contains("(step 5) written in"))
        #expect(run.log.contains("30.0 s after the deadline"))
    }

    /// The kind: no deadline, however far past or close, skips the emergency save.
    @Test(arguments: [-86_400.0, -30, -0.001, 0, 0.001, 120])
    func aDeadlineNeverSkipsTheEmergencySave(secondsLeft: Double) throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let run = try Self.run(in: dir, raiseAt: 3, now: { Self.frozen }) { _ in
            Self.notice(deadline: Self.frozen.addingTimeInterval(secondsLeft), at: Self.frozen)
        }
        let report = try #require(run.spot.report)
        #expect(report.outcomeName == "saved", "\(secondsLeft) s left: \(report.outcome)")
        #expect(report.checkpointIsCurrent)
        #expect(report.checkpoint?.globalStep == 3)
        #expect(abs(try #require(report.secondsBeforeDeadline) - secondsLeft) < 1e-6)
        #expect(try run.directory.list().map(\.globalStep) == [3])
        #expect(run.context.status == .interrupted && run.context.globalStep == 3)
        // A warning exactly when the deadline has passed (no save was measured yet to compare with).
        #expect(run.log.contains("the deadline passed") == (secondsLeft <= 0), "\(run.log.all)")
        #expect(!run.log.contains("error:"), "\(run.log.all)")
    }

    @Test func deadlineCloserThanTheMeasuredSaveStillSavesWithAWarning() throws {
        for (multiple, expectWarning) in [(0.5, true), (3.0, false)] {
            let dir = try CheckpointFixtures.temporaryDirectory()
            defer { CheckpointFixtures.remove(dir) }
            let run = try Self.run(in: dir, everySteps: 2, raiseAt: 5, now: { Self.frozen }) { saver in
                // The step-4 save was measured; leave `multiple` times that for the emergency save.
                let measured = saver.lastSaveSeconds ?? 0
                return Self.notice(deadline: Self.frozen.addingTimeInterval(measured * multiple), at: Self.frozen)
            }
            let report = try #require(run.spot.report)
            #expect(report.checkpointIsCurrent, "multiple \(multiple): \(report.outcome)")
            #expect(try run.directory.list().map(\.globalStep) == [2, 4, 5])
            #expect(run.context.status == .interrupted)
            #expect(run.log.contains("are left before the deadline and the last save took") == expectWarning,
                    "multiple \(multiple): \(run.log.all)")
        }
    }

    @Test func noticeWithoutADeadlineReportsNoMargin() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let run = try Self.run(in: dir, raiseAt: 3) { _ in Self.notice(deadline: nil) }
        let report = try #require(run.spot.report)
        #expect(report.outcomeName == "saved")
        #expect(report.secondsBeforeDeadline == nil)
        #expect(!run.log.contains("deadline"), "\(run.log.all)")
    }

    @Test(arguments: [FailingFileSystem.Operation.write, .synchronize, .rename])
    func failedEmergencySaveKeepsThePreviousCheckpoint(_ operation: FailingFileSystem.Operation) throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // The first save (step 2) succeeds; the emergency save at step 3 fails.
        let probe = FailingFileSystem(failing: nil)
        _ = try CheckpointDirectory(path: dir, fileSystem: probe).save(
            TrainingState.capture(trainer: ModelCheckpointTests.makeTrainer(), progress: TrainingProgress(), seed: 7,
                                  batchSize: 16, trainingCount: 64))
        let callsPerSave = probe.calls(operation)
        try FileManager.default.removeItem(atPath: dir)
        let fs = FailingFileSystem(failing: operation, nth: callsPerSave + 1)
        let run = try Self.run(in: dir, everySteps: 2, raiseAt: 3, fileSystem: fs) { _ in Self.notice(deadline: nil) }
        let report = try #require(run.spot.report)
        guard case .saveFailed(let message) = report.outcome else {
            Issue.record("expected a failed save, got \(report.outcome)")
            return
        }
        #expect(message.contains("injected"))
        #expect(!report.checkpointIsCurrent)
        #expect(report.checkpoint?.globalStep == 2)
        #expect(run.context.status == .interrupted)
        #expect(run.context.globalStep == 3)
        let scan = try run.directory.latestValid()
        #expect(scan.latest?.file.globalStep == 2)
        #expect(try run.directory.list().map(\.globalStep) == [2])
        #expect(run.log.contains("the emergency checkpoint at step 3 failed"))
    }

    @Test func rebalanceRecommendationCheckpointsEarlyAndTrainingContinues() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let run = try Self.run(in: dir, raiseAt: 3) { _ in Self.notice(.rebalanceRecommendation, deadline: nil) }
        #expect(run.context.status == .completed)
        #expect(run.spot.report == nil)
        #expect(run.spot.rebalanceSaves == 1)
        // The early checkpoint at step 3, and the final one at step 12 (trainEnd forwarded).
        #expect(try run.directory.list().map(\.globalStep) == [3, 12])
    }

    @Test func noticePendingAtTrainBeginStopsBeforeAnyBatch() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let flag = InterruptionFlag()
        flag.raise(Self.notice(deadline: Date().addingTimeInterval(120)))
        let saver = ModelCheckpoint(directory: CheckpointDirectory(path: dir), logger: .silent)
        let spot = SpotInterruption(source: flag, checkpoint: saver, logger: .silent)
        let context = try ModelCheckpointTests.makeTrainer().fit(train: Self.train, epochs: 3, batchSize: 16, seed: 7,
                                                                 callbacks: [spot])
        #expect(context.status == .interrupted)
        #expect(context.globalStep == 0)
        #expect(spot.report?.checkpointIsCurrent == true)
    }

    @Test func flagKeepsTheFirstInterruptionAndTheEarliestDeadline() {
        let flag = InterruptionFlag()
        let t0 = Date(timeIntervalSince1970: 1_795_000_000)
        #expect(flag.pendingInterruption == nil)
        #expect(!flag.raise(Self.notice(.rebalanceRecommendation, deadline: t0, at: t0)))
        #expect(flag.rebalanceRecommendation?.deadline == nil)
        #expect(flag.pendingInterruption == nil)
        #expect(flag.raise(InterruptionRequest(kind: .signal, deadline: nil, detectedAt: t0, reason: "SIGTERM")))
        #expect(!flag.raise(Self.notice(deadline: t0.addingTimeInterval(120), at: t0.addingTimeInterval(1))))
        #expect(!flag.raise(Self.notice(deadline: t0.addingTimeInterval(200), at: t0.addingTimeInterval(2))))
        let pending = flag.pendingInterruption
        #expect(pending?.kind == .signal)
        #expect(pending?.reason == "SIGTERM")
        #expect(pending?.detectedAt == t0)
        #expect(pending?.deadline == t0.addingTimeInterval(120))
    }

    @Test func signalSourceRaisesOnFirstSignalAndReportsRepeats() throws {
        // SIGUSR2, so that the test process's own SIGTERM/SIGINT handling is untouched.
        let repeats = Mutex<[Int32]>([])
        let log = SpotLogLines()
        let source = SignalInterruptionSource(signals: [SIGUSR2], gracePeriod: 30,
                                              onRepeat: { signal in repeats.withLock { $0.append(signal) } },
                                              logger: log.logger)
        try source.install()
        defer { source.uninstall() }
        #expect(source.isInstalled)
        #expect(source.pendingInterruption == nil)
        kill(getpid(), SIGUSR2)
        var spins = 0
        while source.pendingInterruption == nil && spins < 20_000 { usleep(500); spins += 1 }
        let request = try #require(source.pendingInterruption)
        #expect(request.kind == .signal)
        #expect(request.reason == "SIGUSR2")
        #expect(request.deadline == request.detectedAt.addingTimeInterval(30))
        kill(getpid(), SIGUSR2)
        spins = 0
        while repeats.withLock({ $0.isEmpty }) && spins < 20_000 { usleep(500); spins += 1 }
        #expect(repeats.withLock { $0 } == [SIGUSR2])
        #expect(log.contains("SIGUSR2 received; finishing the current batch"))
        source.uninstall()
        #expect(!source.isInstalled)
    }
}
