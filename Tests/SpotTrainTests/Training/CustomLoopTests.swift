import Testing
import SpotTrain

/// A toy image problem: 6×6 single-channel images; class 1 when the top half is brighter
/// than the bottom half, else 0, plus noise.
func makeToyDataset(count: Int, seed: UInt64) -> Dataset {
    let rng = RandomGenerator(seed: seed)
    let images = Tensor.zeros([count, 6, 6, 1])
    var labels: [Int32] = []
    for n in 0..<count {
        let label = Int32(rng.nextInt(below: 2))
        labels.append(label)
        for y in 0..<6 {
            for x in 0..<6 {
                let bright: Float = (y < 3) == (label == 1) ? 0.7 : 0.3
                images[n, y, x, 0] = bright + (rng.nextFloat() - 0.5) * 0.4
            }
        }
    }
    return Dataset(images: images, labels: labels)
}

@Suite struct CustomLoopTests {
    /// The loop of Docs/CustomTrainingLoop.md, with public API only.
    @Test func customLoopLearnsToyProblem() {
        let train = makeToyDataset(count: 512, seed: 1)
        let test = makeToyDataset(count: 256, seed: 2)
        let rng = RandomGenerator(seed: 3)
        let model = Sequential([
            Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, padding: .same, activation: .relu, rng: rng),
            MaxPool2D(poolSize: 2),
            Flatten(),
            Dropout(rate: 0.1, rng: rng),
            Dense(inputFeatures: 36, outputFeatures: 2, rng: rng),
        ])
        let trainer = Trainer(model: model, optimizer: Adam(learningRate: 0.01), rng: rng)
        let before = trainer.evaluate(test)
        let sampler = BatchSampler(count: train.count, batchSize: 32, seed: 4)
        let batch = train.makeBatch(capacity: 32)
        var losses: [Float] = []
        for epoch in 0..<5 {
            for b in 0..<sampler.batchesPerEpoch {
                train.gather(sampler.indices(epoch: epoch, batch: b), into: batch)
                losses.append(trainer.trainStep(batch).loss)
            }
        }
        let after = trainer.evaluate(test)
        #expect(after.accuracy > 0.95, "accuracy before \(before.accuracy), after \(after.accuracy)")
        #expect(after.loss < before.loss)
        #expect(losses.suffix(16).reduce(0, +) < losses.prefix(16).reduce(0, +))
    }

    @Test func fitIsDeterministicAndResumesExactly() throws {
        let train = makeToyDataset(count: 100, seed: 5)
        func makeTrainer() -> Trainer {
            let rng = RandomGenerator(seed: 6)
            let model = Sequential([
                Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, activation: .relu, rng: rng),
                Flatten(),
                Dropout(rate: 0.3, rng: rng),
                Dense(inputFeatures: 48, outputFeatures: 2, rng: rng),
            ])
            return Trainer(model: model, optimizer: Adam(learningRate: 0.01), rng: rng)
        }
        // Uninterrupted: 3 epochs of 4 batches (the last partial).
        let full = makeTrainer()
        let ended = try full.fit(train: train, epochs: 3, batchSize: 32, seed: 7)
        #expect(ended.status == .completed)
        #expect(ended.globalStep == 12)

        // Stopped at step 6 (mid-epoch), state carried over by hand, then resumed.
        let first = makeTrainer()
        let stopped = try first.fit(train: train, epochs: 3, batchSize: 32, seed: 7, maxSteps: 6)
        #expect(stopped.status == .maxSteps)
        #expect(stopped.epoch == 1 && stopped.stepInEpoch == 2)
        let second = makeTrainer()
        for (p, q) in zip(second.model.parameters, first.model.parameters) { p.value.assign(from: q.value) }
        try second.optimizer.importState(first.optimizer.exportState(), for: second.model.parameters)
        second.rng.state = first.rng.state
        let resumed = try second.fit(train: train, epochs: 3, batchSize: 32, seed: 7, resumeFrom: stopped.progress)
        #expect(resumed.status == .completed)
        #expect(resumed.globalStep == 12)
        #expect(second.model.parameterFingerprintBytes() == full.model.parameterFingerprintBytes())
        func withoutTimes(_ h: [[String: Double]]) -> [[String: Double]] { h.map { $0.filter { $0.key != "epoch_seconds" } } }
        #expect(withoutTimes(resumed.progress.history) == withoutTimes(ended.progress.history))
    }

    @Test func callbacksSeeEventsInOrderAndCanStop() throws {
        final class Recorder: Callback {
            var events: [String] = []
            func trainBegin(_ c: TrainingContext) { events.append("trainBegin") }
            func epochBegin(_ c: TrainingContext) { events.append("epochBegin\(c.epoch)") }
            func batchEnd(_ c: TrainingContext) {
                events.append("batch\(c.globalStep)")
                if c.globalStep == 5 { c.requestStop(reason: "test") }
            }
            func epochEnd(_ c: TrainingContext) { events.append("epochEnd\(c.epoch)") }
            func trainEnd(_ c: TrainingContext) { events.append("trainEnd:\(c.status.rawValue)") }
        }
        let rng = RandomGenerator(seed: 8)
        let trainer = Trainer(model: Sequential([Flatten(), Dense(inputFeatures: 36, outputFeatures: 2, rng: rng)]),
                              optimizer: SGD(learningRate: 0.1), rng: rng)
        let recorder = Recorder()
        let context = try trainer.fit(train: makeToyDataset(count: 64, seed: 9), epochs: 10, batchSize: 16, seed: 1,
                                      callbacks: [recorder])
        #expect(recorder.events == ["trainBegin", "epochBegin0", "batch1", "batch2", "batch3", "batch4", "epochEnd0",
                                    "epochBegin1", "batch5", "trainEnd:stopped"])
        #expect(context.stopReason == "test")
    }
}
