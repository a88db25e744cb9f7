// snippet.hide
// A custom loop whose checkpoints are also copied to a second place, compiled by
// `swift build` as a SwiftPM snippet. Docs/CustomTrainingLoop.md shows it from the
// `snippet.show` line on. The store here is a directory (another disk, a network file
// system); `S3CheckpointStore` from the `SpotTrainS3` product is used the same way.
// snippet.show
import SpotTrain

// swift run MirroredTrainingLoop DATA_DIR CHECKPOINT_DIR MIRROR_DIR
let arguments = Array(CommandLine.arguments.dropFirst())
let (data, local, remote) = arguments.count == 3 ? (arguments[0], arguments[1], arguments[2])
    : ("Data/mnist", "checkpoints", "checkpoints-mirror")
let (train, _) = try MNIST.load(from: data, trainLimit: 2048)
let rng = RandomGenerator(seed: 1)
let model = Sequential(inputShape: [28, 28, 1]) {
    Conv2D(filters: 8, kernelSize: 3, stride: 2, activation: .relu, rng: rng)  // stride-2 CNN
    Flatten()
    Dense(units: 10, rng: rng)
}
let trainer = Trainer(model: model, optimizer: Adam(learningRate: 1e-3), rng: rng)

// Every checkpoint written locally is uploaded off the training thread; the store keeps 5.
let directory = CheckpointDirectory(path: local)
let mirror = CheckpointMirror(store: CheckpointDirectory(path: remote), directory: directory, keep: 5)
let manager = CheckpointManager(directory: directory, everySeconds: 30, keep: 2, mirror: mirror)
// With a mirror, `start` also looks in the store: a fresh machine resumes from there.
let run = try manager.start(trainer: trainer, trainingCount: train.count, batchSize: 64, seed: 1)
let batch = train.makeBatch(capacity: 64)
while run.epoch < 2 {
    while run.stepInEpoch < run.sampler.batchesPerEpoch {
        train.gather(run.sampler.indices(epoch: run.epoch, batch: run.stepInEpoch), into: batch)
        try run.recordStep(trainer.trainStep(batch))
    }
    try run.endEpoch()
}
try run.finish()  // saves the final state and waits until the store has it
mirror.stop()
print("final checkpoint uploaded:", manager.finalUpload.map(CheckpointMirror.describe) ?? "no")
