import Foundation
import Testing
import SpotTrain

/// CheckpointManager and TrainingRun: a custom loop's checkpoints match `fit`'s, and a loop
/// restarted from any of them ends with the same weights (public API only).
@Suite struct CheckpointManagerTests {
    /// The loop of Docs/CustomTrainingLoop.md, on a run that may resume.
    /// - Returns: The run (after `finish`), with `stopAfter` steps at most in this call.
    @discardableResult
    static func customLoop(_ trainer: Trainer, manager: CheckpointManager, train: Dataset, validation: Dataset,
                           epochs: Int, stopAfter: Int = .max) throws -> TrainingRun {
        let run = try manager.start(trainer: trainer, trainingCount: train.count, batchSize: 32, seed: 7)
        let batch = Batch(capacity: 32, exampleShape: train.exampleShape)
        var steps = 0
        loop: while run.epoch < epochs {
            while run.stepInEpoch < run.sampler.batchesPerEpoch {
                if steps == stopAfter { return run }  // "killed": no finish
                train.gather(run.sampler.indices(epoch: run.epoch, batch: run.stepInEpoch), into: batch)
                try run.recordStep(trainer.trainStep(batch))
                steps += 1
            }
            let v = trainer.evaluate(validation, batchSize: 500)
            try run.endEpoch(metrics: ["val_loss": v.loss, "val_accuracy": v.accuracy])
        }
        try run.finish()
        return run
    }

    @Test func customLoopWritesTheCheckpointsFitWrites() throws {
        let train = makeToyDataset(count: 100, seed: 5)
        let validation = makeToyDataset(count: 40, seed: 11)
        let fitDir = try CheckpointFixtures.temporaryDirectory(), loopDir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(fitDir); CheckpointFixtures.remove(loopDir) }
        let fitted = ModelCheckpointTests.makeTrainer()
        try fitted.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7,
                       callbacks: [ModelCheckpoint(directory: CheckpointDirectory(path: fitDir), everySteps: 3, logger: .silent)])
        let looped = ModelCheckpointTests.makeTrainer()
        let manager = CheckpointManager(directory: CheckpointDirectory(path: loopDir), everySteps: 3, logger: .silent)
        let run = try Self.customLoop(looped, manager: manager, train: train, validation: validation, epochs: 3)

        #expect(looped.model.parameterFingerprintBytes() == fitted.model.parameterFingerprintBytes())
        let fitFiles = try CheckpointDirectory(path: fitDir).list(), loopFiles = try manager.directory.list()
        #expect(loopFiles.map(\.globalStep) == [3, 4, 6, 8, 9, 12])
        #expect(loopFiles.map(\.globalStep) == fitFiles.map(\.globalStep))
        #expect(run.globalStep == 12 && run.epoch == 3 && run.progress.history.count == 3)
        // Every checkpoint records the same position and weights as fit's.
        for (a, b) in zip(fitFiles, loopFiles) {
            let fromFit = try CheckpointDirectory(path: fitDir).reader.read(atPath: a.path)
            let fromLoop = try manager.directory.reader.read(atPath: b.path)
            let p = try #require(fromFit.metadata.trainingState?.progress), q = try #require(fromLoop.metadata.trainingState?.progress)
            let fitPosition: [Int] = [p.epoch, p.stepInEpoch, p.globalStep, p.history.count]
            let loopPosition: [Int] = [q.epoch, q.stepInEpoch, q.globalStep, q.history.count]
            #expect(fitPosition == loopPosition, "\(b.name)")
            #expect(fromFit.tensors.map(\.tensor.scalars) == fromLoop.tensors.map(\.tensor.scalars), "\(b.name)")
        }
        // The epoch-end checkpoint already points at the next epoch.
        let epochEnd = try manager.directory.reader.read(atPath: loopFiles[1].path).metadata.trainingState?.progress
        #expect(epochEnd?.epoch == 1 && epochEnd?.stepInEpoch == 0 && epochEnd?.history.count == 1)
    }

    @Test func customLoopStoppedAtAnyStepResumesToTheUninterruptedWeights() throws {
        let train = makeToyDataset(count: 100, seed: 5)
        let validation = makeToyDataset(count: 40, seed: 11)
        let reference = ModelCheckpointTests.makeTrainer()
        try reference.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7)
        let expected = reference.model.parameterFingerprintBytes()
        for stop in [1, 3, 4, 5, 8, 11] {
            let dir = try CheckpointFixtures.temporaryDirectory()
            defer { CheckpointFixtures.remove(dir) }
            func manager() -> CheckpointManager {
                CheckpointManager(directory: CheckpointDirectory(path: dir), everySteps: 1, keep: 2, logger: .silent)
            }
            try Self.customLoop(ModelCheckpointTests.makeTrainer(), manager: manager(), train: train,
                                validation: validation, epochs: 3, stopAfter: stop)
            let resumed = ModelCheckpointTests.makeTrainer(seed: 999)  // other weights: all must be restored
            let run = try Self.customLoop(resumed, manager: manager(), train: train, validation: validation, epochs: 3)
            #expect(run.resumedFrom?.file.globalStep == stop)
            #expect(resumed.model.parameterFingerprintBytes() == expected, "stopped after step \(stop)")
            #expect(run.progress.history.count == 3)
            #expect(try CheckpointDirectory(path: dir).list().count == 2)
        }
    }

    @Test func saveNowWritesTheRunsPositionAndBestOnlyKeepsImprovements() throws {
        let train = makeToyDataset(count: 64, seed: 5)
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let manager = CheckpointManager(directory: CheckpointDirectory(path: dir), saveBestOnly: true,
                                        monitor: "val_accuracy", logger: .silent)
        let trainer = ModelCheckpointTests.makeTrainer()
        let run = try manager.start(trainer: trainer, trainingCount: 64, batchSize: 32, seed: 3)
        #expect(run.resumedFrom == nil && run.globalStep == 0)
        let batch = Batch(capacity: 32, exampleShape: train.exampleShape)
        train.gather(run.sampler.indices(epoch: 0, batch: 0), into: batch)
        try run.recordStep(trainer.trainStep(batch))
        let file = try manager.saveNow(reason: "test")
        #expect(file.globalStep == 1 && manager.saveCount == 1)
        let saved = try manager.directory.reader.read(atPath: file.path).metadata.trainingState
        #expect(saved?.progress.stepInEpoch == 1 && saved?.seed == 3)

        // Best-only: epoch ends save when val_accuracy improves, not otherwise.
        train.gather(run.sampler.indices(epoch: 0, batch: 1), into: batch)
        try run.recordStep(trainer.trainStep(batch))
        try run.endEpoch(metrics: ["val_accuracy": 0.5])
        #expect(manager.saveCount == 2 && run.progress.best[manager.bestKey] == 0.5)
        for b in 0..<2 {
            train.gather(run.sampler.indices(epoch: 1, batch: b), into: batch)
            try run.recordStep(trainer.trainStep(batch))
        }
        try run.endEpoch(metrics: ["val_accuracy": 0.4])
        #expect(manager.saveCount == 2 && run.progress.best[manager.bestKey] == 0.5)
        #expect(try run.finish()?.globalStep == 4)
        #expect(manager.saveCount == 3)
    }

    @Test func nonFiniteLossStopsTheLoopAndNothingIsSaved() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let manager = CheckpointManager(directory: CheckpointDirectory(path: dir), everySteps: 1, logger: .silent)
        let run = try manager.start(trainer: ModelCheckpointTests.makeTrainer(), trainingCount: 64, batchSize: 32, seed: 3)
        try run.recordStep(loss: 0.7, correct: 10, count: 32)
        #expect(manager.saveCount == 1)
        #expect(throws: TrainingError.self) { try run.recordStep(loss: .nan, correct: 0, count: 32) }
        #expect(run.hasDiverged)
        #expect(try run.finish() == nil)
        #expect(try manager.directory.list().map(\.globalStep) == [1])
    }
}

/// The manager with a ``CheckpointMirror``: uploads, and resuming on a machine whose local
/// directory is empty.
@Suite struct CheckpointManagerMirrorTests {
    @Test func runWithAMirrorResumesFromTheStoreWhenTheLocalDirectoryIsGone() throws {
        let train = makeToyDataset(count: 100, seed: 5)
        let validation = makeToyDataset(count: 40, seed: 11)
        let reference = ModelCheckpointTests.makeTrainer()
        try reference.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7)
        let local = try CheckpointFixtures.temporaryDirectory(), remote = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(local); CheckpointFixtures.remove(remote) }
        func manager() -> (CheckpointManager, CheckpointMirror) {
            let directory = CheckpointDirectory(path: local)
            let mirror = CheckpointMirror(store: CheckpointDirectory(path: remote), directory: directory, keep: 2,
                                          logger: .silent)
            return (CheckpointManager(directory: directory, everySteps: 2, keep: 1, mirror: mirror, logger: .silent), mirror)
        }
        let (first, firstMirror) = manager()
        let stopped = try CheckpointManagerTests.customLoop(ModelCheckpointTests.makeTrainer(), manager: first, train: train,
                                                            validation: validation, epochs: 3, stopAfter: 6)
        #expect(stopped.globalStep == 6)
        first.waitForFinalUpload()
        #expect(first.finalUpload.map { if case .uploaded = $0 { true } else { false } } == true)
        firstMirror.stop()
        #expect(try CheckpointDirectory(path: remote).list().map(\.globalStep) == [4, 6])

        // A new machine: nothing local.
        CheckpointFixtures.remove(local)
        let (second, secondMirror) = manager()
        defer { secondMirror.stop() }
        let resumed = ModelCheckpointTests.makeTrainer(seed: 999)
        let run = try CheckpointManagerTests.customLoop(resumed, manager: second, train: train, validation: validation, epochs: 3)
        #expect(run.resumedFrom?.downloadedFrom != nil)
        #expect(run.resumedFrom?.file.globalStep == 6)
        #expect(resumed.model.parameterFingerprintBytes() == reference.model.parameterFingerprintBytes())
        #expect(try CheckpointDirectory(path: remote).list().map(\.globalStep).last == 12)
    }
}
