import Foundation
import Testing
import SpotTrain

/// ModelCheckpoint, TrainingState and Resume on the toy problem (public API only).
@Suite struct ModelCheckpointTests {
    static func makeTrainer(seed: UInt64 = 6) -> Trainer {
        let rng = RandomGenerator(seed: seed)
        let model = Sequential([
            Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, activation: .relu, rng: rng),
            Flatten(),
            Dropout(rate: 0.3, rng: rng),
            Dense(inputFeatures: 48, outputFeatures: 2, rng: rng),
        ])
        return Trainer(model: model, optimizer: Adam(learningRate: 0.01), rng: rng)
    }

    @Test func resumeFromEveryCheckpointMatchesUninterruptedRun() throws {
        let train = makeToyDataset(count: 100, seed: 5)
        let validation = makeToyDataset(count: 40, seed: 11)
        let reference = Self.makeTrainer()
        try reference.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7)
        let expected = reference.model.parameterFingerprintBytes()

        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        let saver = ModelCheckpoint(directory: directory, everySteps: 3, logger: .silent)
        let first = Self.makeTrainer()
        try first.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7, callbacks: [saver])
        #expect(first.model.parameterFingerprintBytes() == expected)
        let files = try directory.list()
        // Steps 3, 6, 9, 12 plus epoch ends at 4 and 8 (12 is both, and the end of training).
        #expect(files.map(\.globalStep) == [3, 4, 6, 8, 9, 12])

        // Resume from each checkpoint in turn (mid-epoch and at epoch boundaries).
        for file in files {
            let loaded = try directory.reader.read(atPath: file.path)
            let trainer = Self.makeTrainer(seed: 999)  // different initial weights: all must be restored
            let progress = try TrainingState.restore(loaded, into: trainer, batchSize: 32, trainingCount: 100)
            #expect(progress.globalStep == file.globalStep)
            let context = try trainer.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7,
                                          resumeFrom: progress)
            #expect(context.status == .completed)
            #expect(trainer.model.parameterFingerprintBytes() == expected, "resumed from \(file.name)")
            #expect(context.progress.history.count == 3)
        }
    }

    @Test func resumeLatestSkipsCorruptNewestAndFallsBack() throws {
        let train = makeToyDataset(count: 64, seed: 5)
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        try Self.makeTrainer().fit(train: train, epochs: 2, batchSize: 16, seed: 1,
                                   callbacks: [ModelCheckpoint(directory: directory, everySteps: 2, logger: .silent)])
        let files = try directory.list()
        #expect(files.last?.globalStep == 8)
        // Corrupt the newest file (a flipped byte in the middle).
        var bytes = try CheckpointFixtures.read(files.last!.path)
        bytes[bytes.count / 2] ^= 0xFF
        try CheckpointFixtures.write(bytes, to: files.last!.path)
        let warnings = SpotLogLines()
        let trainer = Self.makeTrainer()
        let point = try #require(try Resume.latest(from: directory, into: trainer, batchSize: 16, trainingCount: 64,
                                                   logger: warnings.logger))
        #expect(point.file.globalStep == 6)
        #expect(point.progress.globalStep == 6)
        // One structured warning naming the skipped file, its step and the reader's error code.
        let events = warnings.entries
        #expect(events.count == 1)
        #expect(events.first?.level == .warning)
        #expect(events.first.map { "\($0.message)" }?.contains(files.last!.path) == true)
        #expect(events.first?.metadata["path"] == "\(files.last!.path)")
        #expect(events.first?.metadata["step"] == "8")
        #expect(events.first?.metadata["error_code"] != nil)
    }

    @Test func resumeRejectsAnotherModelNamingTheParameter() throws {
        let train = makeToyDataset(count: 32, seed: 5)
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        try Self.makeTrainer().fit(train: train, epochs: 1, batchSize: 16, seed: 1,
                                   callbacks: [ModelCheckpoint(directory: directory, logger: .silent)])
        let rng = RandomGenerator(seed: 1)
        let other = Trainer(model: Sequential([Flatten(), Dense(inputFeatures: 36, outputFeatures: 2, rng: rng)]),
                            optimizer: Adam(), rng: rng)
        let before = other.model.parameterFingerprintBytes()
        #expect {
            _ = try Resume.latest(from: directory, into: other, logger: .silent)
        } throws: { error in
            guard let e = error as? CheckpointError else { return false }
            return e.code == .signatureMismatch && e.message.contains("dense1.weight")
        }
        #expect(other.model.parameterFingerprintBytes() == before)
        // A different batch size is refused too.
        #expect(throws: CheckpointError.self) {
            _ = try Resume.latest(from: directory, into: Self.makeTrainer(), batchSize: 8, logger: .silent)
        }
    }

    @Test(arguments: FailingFileSystem.Operation.allCases)
    func failedSaveKeepsCheckpointsAndTrainingContinues(_ operation: FailingFileSystem.Operation) throws {
        let train = makeToyDataset(count: 64, seed: 5)
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // The second save (step 4) fails at `operation`.
        let fs = FailingFileSystem(failing: operation, nth: 2)
        let directory = CheckpointDirectory(path: dir, fileSystem: fs)
        let logged = SpotLogLines()
        let saver = ModelCheckpoint(directory: directory, everyEpoch: false, everySteps: 2, keep: 2,
                                    saveOnTrainEnd: false, logger: logged.logger)
        let trainer = Self.makeTrainer()
        let context = try trainer.fit(train: train, epochs: 2, batchSize: 16, seed: 1, callbacks: [saver])
        #expect(context.status == .completed)
        #expect(context.globalStep == 8)
        #expect(logged.all.contains { $0.contains("error: checkpoint save failed") && $0.contains("injected") })
        let failure = try #require(logged.entries.first { $0.level == .error })
        #expect(failure.metadata["step"] == "4")
        #expect(failure.metadata["directory"] == "\(dir)")
        #expect(failure.metadata["error_type"] != nil)
        let steps = try CheckpointDirectory(path: dir).verifyAll().filter(\.isValid).map(\.file.globalStep)
        // keep: 2 leaves the two newest; the failed step-4 save lost nothing (step 2 was still
        // there until the step-8 save pruned it).
        #expect(steps == [6, 8])
        #expect(saver.lastError == nil)  // later saves succeeded
        #expect(try CheckpointFixtures.names(in: dir).allSatisfy { !$0.contains(".tmp-") })
    }

    @Test func saveBestOnlyKeepsBestValueAcrossResume() throws {
        let train = makeToyDataset(count: 64, seed: 5)
        let validation = makeToyDataset(count: 32, seed: 6)
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        let saver = ModelCheckpoint(directory: directory, saveBestOnly: true, monitor: "val_loss",
                                    saveOnTrainEnd: false, logger: .silent)
        let trainer = Self.makeTrainer()
        let context = try trainer.fit(train: train, validation: validation, epochs: 3, batchSize: 16, seed: 1,
                                      callbacks: [saver])
        let best = try #require(context.progress.best["ModelCheckpoint.val_loss"])
        let valLosses = context.progress.history.compactMap { $0["val_loss"] }
        #expect(best == valLosses.min())
        let latest = try #require(try directory.latestValid().latest)
        let callbacks = TrainingState.CallbackState(try #require(latest.checkpoint.metadata.trainingState).progress.best)
        #expect(callbacks.modelCheckpoint == [.init(monitor: "val_loss", best: best)])
        let resumed = try TrainingState.restore(latest.checkpoint, into: Self.makeTrainer())
        #expect(resumed.best["ModelCheckpoint.val_loss"] == best)
    }
}
