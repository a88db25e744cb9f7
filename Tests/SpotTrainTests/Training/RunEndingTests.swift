import Foundation
import Testing
import SpotTrain
#if canImport(Glibc)
import Glibc
#endif

/// How a training run ends when a save fails, the loss diverges or the data is degenerate
/// (public API only).
@Suite struct RunEndingTests {
    static func makeTrainer(seed: UInt64 = 6, learningRate: Double = 0.01) -> Trainer {
        let rng = RandomGenerator(seed: seed)
        let model = Sequential([
            Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, activation: .relu, rng: rng),
            Flatten(),
            Dense(inputFeatures: 48, outputFeatures: 2, rng: rng),
        ])
        return Trainer(model: model, optimizer: Adam(learningRate: learningRate), rng: rng)
    }

    /// Every file operation succeeds until `capacity` checkpoint files have been created;
    /// from then on every write fails with ENOSPC, as on a full disk.
    final class FullDiskFileSystem: CheckpointFileSystem, @unchecked Sendable {
        private let base = POSIXCheckpointFileSystem()
        private let lock = NSLock()
        private var created = 0
        let capacity: Int
        init(capacity: Int) { self.capacity = capacity }

        func createFile(atPath path: String) throws -> Int32 {
            lock.withLock { created += 1 }
            return try base.createFile(atPath: path)
        }
        func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
            if lock.withLock({ created > capacity }) {
                throw CheckpointError(.io, "injected write failure: No space left on device", systemErrorNumber: ENOSPC)
            }
            try base.write(descriptor, bytes)
        }
        func synchronize(_ descriptor: Int32) throws { try base.synchronize(descriptor) }
        func close(_ descriptor: Int32) throws { try base.close(descriptor) }
        func rename(_ source: String, to destination: String) throws { try base.rename(source, to: destination) }
        func synchronizeDirectory(atPath path: String) throws { try base.synchronizeDirectory(atPath: path) }
        func removeFile(atPath path: String) throws { try base.removeFile(atPath: path) }
        func contentsOfDirectory(atPath path: String) throws -> [String] { try base.contentsOfDirectory(atPath: path) }
        func readFile(atPath path: String) throws -> [UInt8] { try base.readFile(atPath: path) }
        func createDirectory(atPath path: String) throws { try base.createDirectory(atPath: path) }
    }

    // MARK: Failed saves

    @Test func failedFinalSaveIsReportedWithTheNewestGoodCheckpoint() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir, fileSystem: FullDiskFileSystem(capacity: 1))
        let lines = SpotLogLines()
        let saver = ModelCheckpoint(directory: directory, logger: lines.logger)
        let train = makeToyDataset(count: 64, seed: 5)
        // 3 epochs of 4 steps: the epoch-1 save fits, epochs 2 and 3 fail, and the final
        // save retried at trainEnd fails again.
        let context = try Self.makeTrainer().fit(train: train, epochs: 3, batchSize: 16, seed: 1, callbacks: [saver])
        #expect(context.status == .completed)
        #expect(saver.lastSaveFailed)
        #expect(saver.failureCount == 3)
        #expect(saver.saveCount == 1)
        #expect(saver.lastSaved?.globalStep == 4)
        #expect(lines.all.filter { $0.contains("checkpoint save failed") }.count == 3)
        #expect(try directory.list().map(\.globalStep) == [4])
    }

    @Test func saveThatRecoversBeforeTheEndIsNotAFailedRun() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // The second file fails (a transient error), the rest succeed.
        let directory = CheckpointDirectory(path: dir, fileSystem: FailingFileSystem(failing: .rename, nth: 2))
        let saver = ModelCheckpoint(directory: directory, logger: .silent)
        try Self.makeTrainer().fit(train: makeToyDataset(count: 64, seed: 5), epochs: 3, batchSize: 16, seed: 1,
                                   callbacks: [saver])
        #expect(saver.failureCount == 1)
        #expect(!saver.lastSaveFailed)
        #expect(saver.lastSaved?.globalStep == 12)
    }

    // MARK: Divergence

    /// A copy of `data` whose every pixel is NaN (any step on it has a NaN loss).
    static func poisoned(_ data: Dataset) -> Dataset {
        let images = data.images.copy()
        for i in 0..<images.count { images.pointer[i] = .nan }
        return Dataset(images: images, labels: data.labels)
    }

    @Test func nonFiniteLossStopsTheRunAndNoDivergedStateIsSavedOrGoodOnePruned() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        let clean = makeToyDataset(count: 64, seed: 5)
        let trainer = Self.makeTrainer()
        let first = try trainer.fit(train: clean, epochs: 1, batchSize: 16, seed: 1,
                                    callbacks: [ModelCheckpoint(directory: directory, everySteps: 1, keep: 2, logger: .silent)])
        #expect(try directory.list().map(\.globalStep) == [3, 4])

        // The same run continues on data that makes the loss NaN at its first step; saves
        // are due at every step and keep 2 would prune the older good file.
        let lines = SpotLogLines()
        let saver = ModelCheckpoint(directory: directory, everySteps: 1, keep: 2, logger: lines.logger)
        let context = try trainer.fit(train: Self.poisoned(clean), epochs: 3, batchSize: 16, seed: 1,
                                      callbacks: [saver], resumeFrom: first.progress)
        #expect(context.status == .diverged)
        #expect(context.globalStep == 5, "stops at the first diverged step")
        #expect(context.stopReason?.contains("nan") == true, "\(context.stopReason ?? "")")
        #expect(saver.saveCount == 0 && saver.failureCount == 0 && !saver.lastSaveFailed)
        #expect(try directory.list().map(\.globalStep) == [3, 4])
        for file in try directory.list() {
            #expect(try directory.reader.read(atPath: file.path).firstNonFiniteValue() == nil)
        }
    }

    /// Sets one parameter element to infinity at the end of step `step`.
    final class Corrupter: Callback {
        let step: Int
        init(step: Int) { self.step = step }
        func batchEnd(_ context: TrainingContext) throws {
            if context.globalStep == step { context.trainer.model.parameters[0].value.pointer[1] = .infinity }
        }
    }

    @Test func saveRefusesAStateWithANonFiniteTensorAndMarksTheRunDiverged() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        let lines = SpotLogLines()
        let saver = ModelCheckpoint(directory: directory, everySteps: 1, logger: lines.logger)
        // The loss of step 2 is still finite (computed before the update); the state is not.
        let context = try Self.makeTrainer().fit(train: makeToyDataset(count: 64, seed: 5), epochs: 2, batchSize: 16,
                                                 seed: 1, callbacks: [Corrupter(step: 2), saver])
        #expect(context.status == .diverged)
        #expect(try directory.list().map(\.globalStep) == [1])
        #expect(saver.failureCount == 0)
        #expect(lines.all.contains { $0.contains("not saving a diverged state") && $0.contains("inf") }, "\(lines.all)")
    }

    @Test func firstNonFiniteValueFindsNaNAndInfinityAnywhere() {
        for bad: Float in [.nan, .infinity, -.infinity] {
            for index in [0, 4095, 4096, 9999] {
                let t = Tensor.zeros([10_000])
                t.pointer[index] = bad
                let checkpoint = Checkpoint(metadata: CheckpointFixtures.small().metadata,
                                            tensors: [NamedTensor(name: "a", tensor: Tensor.zeros([3])),
                                                      NamedTensor(name: "b", tensor: t)])
                let found = checkpoint.firstNonFiniteValue()
                #expect(found?.tensor == "b" && found?.index == index)
            }
        }
        #expect(CheckpointFixtures.small().firstNonFiniteValue() == nil)
    }

    // MARK: Degenerate data

    @Test func degenerateTrainingSetSizesHaveDefinedResults() throws {
        let batch = 8
        let emptyTest = makeToyDataset(count: 0, seed: 2)
        // 0 examples: a typed error, not a trap.
        let empty = makeToyDataset(count: 0, seed: 1)
        let error = try #require(throws: TrainingError.self) {
            try Self.makeTrainer().fit(train: empty, epochs: 1, batchSize: batch, seed: 1)
        }
        #expect(error.code == .emptyTrainingSet)
        for count in [1, batch - 1, batch, batch + 1] {
            let train = makeToyDataset(count: count, seed: 1)
            for batchSize in [batch, 1 << 30] {
                let context = try Self.makeTrainer().fit(train: train, validation: emptyTest, epochs: 2,
                                                         batchSize: batchSize, seed: 1)
                let perEpoch = (count + batchSize - 1) / batchSize
                #expect(context.status == .completed)
                #expect(context.globalStep == 2 * perEpoch, "count \(count), batch \(batchSize)")
                #expect(context.progress.trainingSamples == 2 * count)
                // No invented validation metrics for an empty validation set.
                #expect(context.progress.history.allSatisfy { $0["val_loss"] == nil && $0["val_accuracy"] == nil })
                #expect(context.progress.history.allSatisfy { $0["loss"]?.isFinite == true })
            }
        }
        let none = Self.makeTrainer().evaluate(emptyTest)
        #expect(none.count == 0 && none.loss.isNaN && none.accuracy.isNaN)
    }

    // MARK: Hyperparameters on resume

    @Test func resumeReportsReplacedHyperparametersAndAllCanBeSetAgain() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        let train = makeToyDataset(count: 32, seed: 5)
        try Self.makeTrainer(learningRate: 0.002).fit(train: train, epochs: 1, batchSize: 16, seed: 1,
                                                      callbacks: [ModelCheckpoint(directory: directory, logger: .silent)])
        let trainer = Self.makeTrainer(learningRate: 0.0005)
        let adam = try #require(trainer.optimizer as? Adam)
        adam.beta1 = 0.8
        let point = try #require(try Resume.latest(from: directory, into: trainer, logger: .silent))
        #expect(point.replacedHyperparameters.map(\.name) == ["beta1", "learningRate"])
        #expect(point.replacedHyperparameters.last?.configured == 0.0005)
        #expect(point.replacedHyperparameters.last?.restored == 0.002)
        #expect(point.batchSize == 16 && point.trainingCount == 32 && point.seed == 1)
        #expect(adam.learningRate == 0.002 && adam.beta1 == 0.9)
        // Every hyperparameter is settable after the resume, and exported as set.
        adam.learningRate = 0.0005
        adam.beta1 = 0.85
        adam.beta2 = 0.99
        adam.epsilon = 1e-6
        adam.weightDecay = 0.01
        adam.biasCorrection = false
        let h = adam.exportState().hyperparameters
        #expect(h["learningRate"] == 0.0005 && h["beta1"] == 0.85 && h["beta2"] == 0.99)
        #expect(h["epsilon"] == 1e-6 && h["weightDecay"] == 0.01 && h["biasCorrection"] == 0)
    }

    @Test func sgdHyperparametersAreSettableAndStateStaysImportable() throws {
        let trainer = Trainer(model: Self.makeTrainer().model,
                              optimizer: SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), rng: RandomGenerator(seed: 1))
        let sgd = try #require(trainer.optimizer as? SGD)
        trainer.trainStep(makeToyDataset(count: 4, seed: 1).makeBatchAll())
        sgd.nesterov = false
        sgd.momentum = 0
        sgd.weightDecay = 0.001
        sgd.learningRate = 0.05
        let state = sgd.exportState()
        #expect(state.slots.isEmpty, "momentum 0 has no buffers")
        let fresh = SGD(learningRate: 1, momentum: 0.5, nesterov: true)
        try fresh.importState(state, for: trainer.model.parameters)
        #expect(fresh.momentum == 0 && !fresh.nesterov && fresh.weightDecay == 0.001 && fresh.learningRate == 0.05)
        sgd.momentum = 0.5
        trainer.trainStep(makeToyDataset(count: 4, seed: 1).makeBatchAll())
        #expect(sgd.exportState().slots.count == trainer.model.parameters.count)
    }
}

extension Dataset {
    /// All examples as one batch.
    fileprivate func makeBatchAll() -> Batch {
        let batch = makeBatch(capacity: count)
        gather(Array(0..<count), into: batch)
        return batch
    }
}
