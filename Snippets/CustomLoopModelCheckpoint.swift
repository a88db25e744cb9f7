// snippet.hide
// One `ModelCheckpoint` for a custom loop and for `fit`, compiled by `swift build` as a SwiftPM
// snippet (a library-only client). Docs/CustomTrainingLoop.md shows this file from the
// `snippet.show` line on; Tests/spottrainTests/CustomLoopModelCheckpointSnippetTests.swift runs
// it, interrupted in each phase, and checks that the checkpoints carry on across both.
// snippet.show
import Foundation  // exit
import SpotTrain

// swift run -c release CustomLoopModelCheckpoint DATA_DIR CHECKPOINT_DIR [MAX_STEPS]
// Epoch 1 runs in a loop of our own with a learning-rate warm-up; epochs 2 and 3 run in `fit`.
// Both save through the same ModelCheckpoint, into the same files: run it again after an
// interruption in either phase (or a stop at MAX_STEPS) and it continues from the newest
// valid checkpoint, ending with the same weights as a run that never stopped.
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 2 || arguments.count == 3, let maxSteps = Int(arguments.count == 3 ? arguments[2] : "1000000") else {
    print("usage: CustomLoopModelCheckpoint DATA_DIR CHECKPOINT_DIR [MAX_STEPS]")
    exit(64)
}
let (train, test) = try MNIST.load(from: arguments[0], trainLimit: 4096, testLimit: 1000)
let batchSize = 64, warmUpSteps = 32, peakLearningRate = 1e-3
let rng = RandomGenerator(seed: 3)
let model = Sequential(inputShape: [28, 28, 1], name: "small_cnn") {
    Conv2D(filters: 8, kernelSize: 3, stride: 2, activation: .relu, rng: rng)
    Flatten()
    Dense(units: 10, rng: rng)
}
let trainer = Trainer(model: model, optimizer: Adam(learningRate: peakLearningRate), rng: rng)

// The callback `fit` will use; its `manager` is the same engine for the custom loop.
let checkpoint = ModelCheckpoint(directory: CheckpointDirectory(path: arguments[1]), everySteps: 16, keep: 3)
let run = try checkpoint.manager.start(trainer: trainer, trainingCount: train.count, batchSize: batchSize, seed: 11)
if let resumed = run.resumedFrom {
    print("resuming from \(resumed.file.path) at epoch \(run.epoch + 1), batch \(run.stepInEpoch)")
}

// Phase 1, our own loop: the learning rate is a function of the position, so a resumed
// run sets the same value as one that never stopped.
let batch = train.makeBatch(capacity: batchSize)
warmUp: while run.epoch < 1 {
    while run.stepInEpoch < run.sampler.batchesPerEpoch {
        if run.globalStep >= maxSteps { break warmUp }  // `fit` below stops at once and saves
        trainer.optimizer.learningRate = peakLearningRate * min(1, Double(run.globalStep + 1) / Double(warmUpSteps))
        train.gather(run.sampler.indices(epoch: run.epoch, batch: run.stepInEpoch), into: batch)
        try run.recordStep(trainer.trainStep(batch))  // saves every 16 steps
    }
    try run.endEpoch()  // and at the epoch end
}

// Phase 2, `fit`, from the run's position, with the same ModelCheckpoint as a callback.
trainer.optimizer.learningRate = peakLearningRate
let result = try trainer.fit(train: train, validation: test, epochs: 3, batchSize: batchSize, seed: run.seed,
                             maxSteps: maxSteps, callbacks: [checkpoint], resumeFrom: run.progress)
print("status \(result.status.rawValue), step \(result.progress.globalStep), saves \(checkpoint.saveCount)")
print("weights_sha256 \(model.weightsSHA256())")
