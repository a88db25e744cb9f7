import Foundation
import Testing
import SpotTrain

/// The typed training state: its JSON is pinned by a golden file, every value round-trips
/// bit for bit, and checkpoints of format 1.0 (written before the `training_state` object
/// existed) still load and resume exactly.
@Suite struct TrainingStateTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A state with every kind of value: UInt64 extremes, awkward doubles, all callbacks.
    static func goldenState() -> TrainingState {
        var progress = TrainingProgress()
        progress.epoch = 2
        progress.stepInEpoch = 3
        progress.globalStep = 2 * 4 + 3
        progress.epochLossSum = 0.1 + 0.2
        progress.epochCorrect = 17
        progress.epochSeen = 3 * 32
        progress.trainingSeconds = 1.0 / 3.0
        progress.trainingSamples = 2 * 100 + 96
        progress.history = [["loss": 2.302585092994046, "accuracy": 0.1], ["loss": .nan, "val_loss": .infinity]]
        progress.best = ["ModelCheckpoint.val_loss": 0.6931471805599453, "EarlyStopping.val_accuracy": 0.75,
                         "EarlyStopping.val_accuracy.wait": 1, "MyCallback.lr_scale": 5e-324]
        return TrainingState(progress: progress, seed: 0x8000_0000_0000_0001, batchSize: 32, trainingCount: 100,
                             rngState: UInt64.max,
                             optimizer: .init(kind: "Adam", hyperparameters: [
                                 "learningRate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7,
                                 "weightDecay": 0, "biasCorrection": 1,
                             ], step: 11))
    }

    static func goldenMetadata() -> CheckpointMetadata {
        CheckpointMetadata(libraryVersion: "golden", createdUnixMilliseconds: 1_795_910_400_000,
                           trainingState: goldenState(),
                           modelSignature: ModelSignature([(name: "dense.weight", shape: [3, 2]), (name: "dense.bias", shape: [2])]))
    }

    @Test func trainingStateJSONMatchesGoldenFile() throws {
        let golden = try Data(contentsOf: Self.fixtures.appendingPathComponent("metadata_golden.json"))
        // The file ends with a newline; the metadata is written without one.
        let encoded = Self.goldenMetadata().jsonBytes()
        #expect(String(decoding: encoded, as: UTF8.self) + "\n" == String(decoding: golden, as: UTF8.self))
        let decoded = try CheckpointMetadata.decode(json: Array(golden))
        let state = try #require(decoded.trainingState)
        #expect(state.progress.history[1]["loss"]!.isNaN)
        // NaN != NaN: compare the rest with the NaN replaced.
        var expected = Self.goldenMetadata(), actual = decoded
        expected.trainingState!.progress.history[1]["loss"] = 0
        actual.trainingState!.progress.history[1]["loss"] = 0
        #expect(actual == expected)
        #expect(decoded.jsonBytes() == encoded)
    }

    @Test func callbackValuesAreTypedByCallback() throws {
        let callbacks = TrainingState.CallbackState(Self.goldenState().progress.best)
        #expect(callbacks.modelCheckpoint == [.init(monitor: "val_loss", best: 0.6931471805599453)])
        #expect(callbacks.earlyStopping == [.init(monitor: "val_accuracy", best: 0.75, wait: 1)])
        #expect(callbacks.custom == ["MyCallback.lr_scale": 5e-324])
    }

    @Test func doublesAndUInt64sRoundTripBitForBit() throws {
        let doubles: [Double] = [0, -0.0, 0.1 + 0.2, 1.0 / 3.0, 5e-324, 2.2250738585072009e-308, .ulpOfOne,
                                 1.0.nextUp, 1.0.nextDown, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                 123456789.123456789, 1e22, 1e23, 9007199254740993, .infinity, -.infinity]
        for (i, value) in doubles.enumerated() {
            var metadata = Self.goldenMetadata()
            metadata.trainingState!.progress.epochLossSum = value
            metadata.trainingState!.progress.history = [["x": value]]
            metadata.trainingState!.progress.best = ["ModelCheckpoint.m": value, "other": -value]
            metadata.trainingState!.optimizer.hyperparameters["learningRate"] = value
            metadata.trainingState!.seed = UInt64.max - UInt64(i)
            metadata.trainingState!.rngState = (UInt64(1) << 53) + 1 + UInt64(i)
            let back = try #require(try CheckpointMetadata.decode(json: metadata.jsonBytes()).trainingState)
            let p = back.progress
            #expect(p.epochLossSum.bitPattern == value.bitPattern, "\(value)")
            #expect(p.history[0]["x"]?.bitPattern == value.bitPattern, "\(value)")
            #expect(p.best["ModelCheckpoint.m"]?.bitPattern == value.bitPattern, "\(value)")
            #expect(p.best["other"]?.bitPattern == (-value).bitPattern, "\(value)")
            #expect(back.optimizer.hyperparameters["learningRate"]?.bitPattern == value.bitPattern, "\(value)")
            #expect(back.seed == UInt64.max - UInt64(i) && back.rngState == (UInt64(1) << 53) + 1 + UInt64(i))
        }
    }

    @Test func trainingStateRejectsNumbersWhereIntegersBelong() throws {
        let golden = String(decoding: Self.goldenMetadata().jsonBytes(), as: UTF8.self)
        for (from, to) in [("\"epoch_correct\":17", "\"epoch_correct\":\"17\""),
                           ("\"batch_size\":32", "\"batch_size\":32.5"),
                           ("\"rng_state\":\"18446744073709551615\"", "\"rng_state\":18446744073709551615"),
                           ("\"seed\":\"9223372036854775809\"", "\"seed\":\"-1\""),
                           ("\"wait\":1", "\"wait\":-1")] {
            #expect(golden.contains(from), "\(from)")
            let json = golden.replacingOccurrences(of: from, with: to)
            #expect(throws: CheckpointError.self, "\(to)") { try CheckpointMetadata.decode(json: Array(json.utf8)) }
        }
    }

    // MARK: Format 1.0

    /// The format 1.0 fixture: the toy model of `ModelCheckpointTests`, Adam with a
    /// non-default β₁ and weight decay, EarlyStopping on `val_accuracy` and a best-only
    /// ModelCheckpoint on `val_loss`, saved at the end of a run stopped after step 6 (epoch 1,
    /// step 2 of 4). See `Fixtures/README.md`.
    static func legacyRunTrainer(seed: UInt64 = 6) -> Trainer {
        let rng = RandomGenerator(seed: seed)
        let model = Sequential([
            Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, activation: .relu, rng: rng),
            Flatten(),
            Dropout(rate: 0.3, rng: rng),
            Dense(inputFeatures: 48, outputFeatures: 2, rng: rng),
        ])
        return Trainer(model: model, optimizer: Adam(learningRate: 0.01, beta1: 0.85, weightDecay: 0.01), rng: rng)
    }

    static func legacyRunCallbacks(_ directory: String) -> [any Callback] {
        [EarlyStopping(monitor: "val_accuracy", patience: 5),
         ModelCheckpoint(directory: CheckpointDirectory(path: directory), everySteps: 5, saveBestOnly: true,
                         monitor: "val_loss", logger: .silent)]
    }

    @Test func formatOneCheckpointLoadsWithItsTrainingState() throws {
        let bytes = try CheckpointFixtures.read(Self.fixtures.appendingPathComponent("ckpt-format-1.0.spt").path)
        let checkpoint = try CheckpointReader.decode(bytes)
        let state = try #require(checkpoint.metadata.trainingState)
        // The reference: the same run, stopped at the same step, captured with this code.
        let train = makeToyDataset(count: 100, seed: 5), validation = makeToyDataset(count: 40, seed: 11)
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let reference = Self.legacyRunTrainer()
        let context = try reference.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7,
                                        maxSteps: 6, callbacks: Self.legacyRunCallbacks(dir))
        var expected = TrainingState.capture(trainer: reference, progress: context.resumableProgress, seed: 7,
                                             batchSize: 32, trainingCount: 100).metadata.trainingState!
        // Only the measured seconds differ from run to run; 1.0 wrote them as text.
        #expect(state.progress.trainingSeconds > 0)
        expected.progress.trainingSeconds = state.progress.trainingSeconds
        #expect(state.progress.history.count == 1)
        #expect(state.progress.history.map { $0.filter { $0.key != "epoch_seconds" } }
                == expected.progress.history.map { $0.filter { $0.key != "epoch_seconds" } })
        expected.progress.history = state.progress.history
        // 1.0 stored the learning rate as the Float it was, widened.
        #expect(state.optimizer.hyperparameters["learningRate"] == Double(Float(0.01)))
        expected.optimizer.hyperparameters["learningRate"] = Double(Float(0.01))
        // The fixture was written by a debug build; an optimised build's C kernels may round
        // the last bit differently, so the floating-point content is compared bit for bit only
        // in the configuration that wrote it, and within 1e-5 otherwise.
        if Self.sameBuildAsFixture { #expect(state == expected) }
        #expect(abs(state.progress.epochLossSum - expected.progress.epochLossSum) <= 1e-5 * max(1, abs(expected.progress.epochLossSum)))
        #expect(state.progress.epoch == 1 && state.progress.stepInEpoch == 2 && state.progress.globalStep == 6)
        #expect(state.optimizer.kind == "Adam" && state.optimizer.step == 6)
        #expect(state.optimizer.hyperparameters["beta1"] == 0.85 && state.optimizer.hyperparameters["weightDecay"] == 0.01)
        let callbacks = TrainingState.CallbackState(state.progress.best)
        #expect(callbacks.modelCheckpoint.map(\.monitor) == ["val_loss"])
        #expect(callbacks.earlyStopping.map(\.monitor) == ["val_accuracy"] && callbacks.earlyStopping[0].wait == 0)
        #expect(callbacks.custom.isEmpty)
        // The 1.0 code's weights and Adam moments after six steps are the current code's, bit
        // for bit (the learning rate is now a Double, used as the nearest Float).
        let current = TrainingState.capture(trainer: reference, progress: context.resumableProgress,
                                            seed: 7, batchSize: 32, trainingCount: 100)
        if Self.sameBuildAsFixture {
            #expect(CheckpointFixtures.bits(checkpoint) == CheckpointFixtures.bits(current))
        }
        #expect(Self.maxDifference(checkpoint.tensorsByName, current.tensorsByName) <= 1e-5)
    }

    @Test func formatOneCheckpointResumesToTheUninterruptedWeights() throws {
        let train = makeToyDataset(count: 100, seed: 5), validation = makeToyDataset(count: 40, seed: 11)
        let referenceDir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(referenceDir) }
        let reference = Self.legacyRunTrainer()
        let done = try reference.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: 7,
                                     callbacks: Self.legacyRunCallbacks(referenceDir))

        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let bytes = try CheckpointFixtures.read(Self.fixtures.appendingPathComponent("ckpt-format-1.0.spt").path)
        try CheckpointFixtures.write(bytes, to: CheckpointDirectory(path: dir).filePath(forGlobalStep: 6))
        let trainer = Self.legacyRunTrainer(seed: 999)
        let point = try #require(try Resume.latest(from: CheckpointDirectory(path: dir), into: trainer,
                                                   batchSize: 32, trainingCount: 100, logger: .silent))
        #expect(point.seed == 7 && point.batchSize == 32 && point.trainingCount == 100)
        #expect(point.progress.globalStep == 6)
        let resumed = try trainer.fit(train: train, validation: validation, epochs: 3, batchSize: 32, seed: point.seed,
                                      callbacks: Self.legacyRunCallbacks(dir), resumeFrom: point.progress)
        #expect(resumed.status == done.status)
        #expect(resumed.progress.history.count == done.progress.history.count)
        #expect(resumed.progress.best == done.progress.best)
        if Self.sameBuildAsFixture {
            #expect(trainer.model.parameterFingerprintBytes() == reference.model.parameterFingerprintBytes())
        }
        let resumedWeights = Dictionary(uniqueKeysWithValues: trainer.model.parameters.map { ($0.name, $0.value) })
        let referenceWeights = Dictionary(uniqueKeysWithValues: reference.model.parameters.map { ($0.name, $0.value) })
        #expect(Self.maxDifference(resumedWeights, referenceWeights) <= 1e-4)
    }

    /// Whether this build is the configuration that wrote the 1.0 fixture (debug).
    static var sameBuildAsFixture: Bool { _isDebugAssertConfiguration() }

    /// The largest absolute difference between same-named tensors (infinity when the names or
    /// shapes differ).
    static func maxDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Float {
        guard Set(a.keys) == Set(b.keys) else { return .infinity }
        var worst: Float = 0
        for (name, x) in a {
            guard let y = b[name], x.shape == y.shape else { return .infinity }
            for i in 0..<x.count { worst = max(worst, abs(x.buffer[i] - y.buffer[i])) }
        }
        return worst
    }
}
