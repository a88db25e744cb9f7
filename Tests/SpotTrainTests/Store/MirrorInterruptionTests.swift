import Foundation
import Testing
import SpotTrain

/// Raises a request on a flag after one global step's batch (registered before the
/// ``SpotInterruption``, so that it acts after that very batch).
private final class RaiseAt: Callback {
    let step: Int
    let flag: InterruptionFlag
    let request: () -> InterruptionRequest
    init(_ step: Int, _ flag: InterruptionFlag, _ request: @escaping () -> InterruptionRequest) {
        self.step = step
        self.flag = flag
        self.request = request
    }
    func batchEnd(_ context: TrainingContext) throws {
        if context.globalStep == step { flag.raise(request()) }
    }
}

/// ``SpotInterruption`` with a ``CheckpointMirror``: the emergency checkpoint's upload is
/// awaited until `uploadMargin` seconds before the deadline.
@Suite struct MirrorInterruptionTests {
    struct Run {
        var context: TrainingContext
        var spot: SpotInterruption
        var log: SpotLogLines
    }

    /// Trains with a mirror into `store`, interrupted after step 6 by `request`.
    static func run(local: CheckpointDirectory, store: any CheckpointStore, mirror: CheckpointMirror,
                    uploadMargin: Double = 5, uploadWaitWithoutDeadline: Double = 30,
                    request: @escaping () -> InterruptionRequest) throws -> Run {
        let log = SpotLogLines()
        let saver = ModelCheckpoint(directory: local, everyEpoch: false, mirror: mirror, logger: log.logger)
        let flag = InterruptionFlag()
        let spot = SpotInterruption(source: flag, checkpoint: saver, uploadMargin: uploadMargin,
                                    uploadWaitWithoutDeadline: uploadWaitWithoutDeadline, logger: log.logger)
        let context = try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16,
                                                                 seed: 7, callbacks: [RaiseAt(6, flag, request), spot])
        return Run(context: context, spot: spot, log: log)
    }

    static func notice(secondsLeft: Double?) -> InterruptionRequest {
        let now = Date()
        return InterruptionRequest(kind: secondsLeft == nil ? .signal : .terminate,
                                   deadline: secondsLeft.map { now.addingTimeInterval($0) }, detectedAt: now, reason: "test")
    }

    @Test func emergencyCheckpointIsInTheStoreWhenFitReturns() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let mirror = CheckpointMirror(store: storeDirectory, directory: local, logger: .silent)
        defer { mirror.stop() }
        let run = try Self.run(local: local, store: storeDirectory, mirror: mirror) { Self.notice(secondsLeft: 120) }
        #expect(run.context.status == .interrupted && run.context.globalStep == 6)
        let report = try #require(run.spot.report)
        #expect(report.outcomeName == "saved")
        let name = CheckpointDirectory.fileName(forGlobalStep: 6)
        guard case .uploaded(let stored)? = report.upload else {
            Issue.record("upload: \(String(describing: report.upload))")
            return
        }
        #expect(stored.name == name && stored.location == storeDirectory.location(of: name))
        #expect(report.uploadWaitSeconds >= 0)
        // Already there as fit returns: no waiting in the test.
        #expect(try storeDirectory.list().map(\.name) == [name])
        #expect(try StoreFixtures.bytes(stored.location) == StoreFixtures.bytes(local.filePath(forGlobalStep: 6)))
        #expect(run.log.contains("interruption: checkpoint \(name) is in \(stored.location)"), "\(run.log.all)")
    }

    /// The store holds the upload; the deadline leaves only 0.3 s beyond the margin: the wait
    /// gives up, the report says so, and fit returns with the local checkpoint.
    @Test(arguments: [true, false])
    func uploadThatDoesNotFitBeforeTheDeadlineTimesOutAndFitReturns(withDeadline: Bool) throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let gate = Gate()
        let watchdog = HangWatchdog(opening: [gate])
        defer { watchdog.finish() }
        let store = FaultyStore(storeDirectory, putGates: [gate])
        let mirror = CheckpointMirror(store: store, directory: local, logger: .silent)
        defer { mirror.stop() }
        let margin = 2.0
        let run = try Self.run(local: local, store: store, mirror: mirror, uploadMargin: margin,
                               uploadWaitWithoutDeadline: 0.3) {
            Self.notice(secondsLeft: withDeadline ? margin + 0.3 : nil)
        }
        #expect(!watchdog.fired, "fit waited for the held upload")
        #expect(run.context.status == .interrupted && run.context.globalStep == 6)
        let report = try #require(run.spot.report)
        #expect(report.checkpointIsCurrent)
        #expect(report.upload == .timedOut)
        let file = try #require(report.checkpoint)
        #expect(run.log.contains("warning: interruption: checkpoint \(file.name) is NOT in \(storeDirectory.location)"),
                "\(run.log.all)")
        #expect(run.log.contains("exiting with the local checkpoint \(file.path)"))
        #expect(try storeDirectory.list().isEmpty)
        // The upload goes on once the store answers (if the process is still there).
        gate.open()
        guard case .uploaded = mirror.wait(for: file, timeout: 20) else {
            Issue.record("not uploaded after the release")
            return
        }
    }

    @Test func refusedEmergencyUploadIsReported() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let store = FaultyStore(storeDirectory, refusePuts: true)
        let mirror = CheckpointMirror(store: store, directory: local, logger: .silent)
        defer { mirror.stop() }
        let run = try Self.run(local: local, store: store, mirror: mirror) { Self.notice(secondsLeft: 120) }
        let report = try #require(run.spot.report)
        guard case .failed(let reason)? = report.upload else {
            Issue.record("upload: \(String(describing: report.upload))")
            return
        }
        #expect(reason.contains("AccessDenied"))
        #expect(store.putAttempts.count == 1)
        #expect(run.log.contains("is NOT in"))
        #expect(run.context.status == .interrupted)
    }

    @Test func withoutAMirrorThereIsNoUploadToReport() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let flag = InterruptionFlag()
        let saver = ModelCheckpoint(directory: CheckpointDirectory(path: dir), everyEpoch: false, logger: .silent)
        let spot = SpotInterruption(source: flag, checkpoint: saver, logger: .silent)
        try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16, seed: 7,
                                                   callbacks: [RaiseAt(6, flag) { Self.notice(secondsLeft: 120) }, spot])
        #expect(spot.report?.outcomeName == "saved")
        #expect(spot.report?.upload == nil)
        #expect(spot.report?.uploadWaitSeconds == 0)
    }
}
