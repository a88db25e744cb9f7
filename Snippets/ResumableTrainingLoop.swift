// snippet.hide
// A custom training loop that survives `kill -9`, compiled by `swift build` as a SwiftPM
// snippet (a library-only client: it sees the package's library products and nothing else).
// Docs/CustomTrainingLoop.md shows this file from the `snippet.show` line on;
// Tests/spottrainTests/ResumableTrainingLoopSnippetTests.swift kills it at random moments and
// checks that the restarted runs end with the weights of an uninterrupted one.
// snippet.show
import Foundation  // exit
import SpotTrain

// swift run -c release ResumableTrainingLoop DATA_DIR CHECKPOINT_DIR [MAX_STEPS]
// Killed at any moment and run again, it continues from the newest valid checkpoint and ends
// with the same weights, bit for bit, as a run that was never interrupted.
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 2 || arguments.count == 3, let maxSteps = Int(arguments.count == 3 ? arguments[2] : "1000000") else {
    print("usage: ResumableTrainingLoop DATA_DIR CHECKPOINT_DIR [MAX_STEPS]")
    exit(64)
}
let epochs = 4, batchSize = 32

// A model of our own: an MLP whose input sizes come from the input shape.
let (train, test) = try MNIST.load(from: arguments[0])
let rng = RandomGenerator(seed: 42)
let model = Sequential(inputShape: [28, 28, 1], name: "mlp") {
    Flatten()
    Dense(units: 64, activation: .relu, rng: rng)
    Dense(units: 10, rng: rng)
}
let trainer = Trainer(model: model, optimizer: Adam(learningRate: 1e-3), rng: rng)

// Save every 5 steps and at each epoch end, keep the newest 3. `start` resumes the trainer
// from the newest valid checkpoint (skipping a corrupt or partial one) and knows the position.
let manager = CheckpointManager(directory: CheckpointDirectory(path: arguments[1]), everySteps: 5, keep: 3)
let run = try manager.start(trainer: trainer, trainingCount: train.count, batchSize: batchSize, seed: 7)
if let resumed = run.resumedFrom {
    print("resuming from \(resumed.file.path) at epoch \(run.epoch + 1), batch \(run.stepInEpoch)")
}

let batch = train.makeBatch(capacity: batchSize)
training: while run.epoch < epochs {
    while run.stepInEpoch < run.sampler.batchesPerEpoch {
        if run.globalStep >= maxSteps { break training }
        train.gather(run.sampler.indices(epoch: run.epoch, batch: run.stepInEpoch), into: batch)
        try run.recordStep(trainer.trainStep(batch))  // saves when a policy says so
    }
    let evaluation = trainer.evaluate(test)
    let record = try run.endEpoch(metrics: ["val_loss": evaluation.loss, "val_accuracy": evaluation.accuracy])
    print("epoch \(run.epoch): loss \(record["loss"] ?? 0), val_accuracy \(evaluation.accuracy)")
}
try run.finish()  // the final state, unless it is already saved
print("weights_sha256 \(model.weightsSHA256())")
