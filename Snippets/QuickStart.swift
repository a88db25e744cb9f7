// snippet.hide
// The README's library example, compiled by `swift build` as a SwiftPM snippet (a
// library-only client: snippets see the package's library products and nothing else).
// README.md shows this file from the `snippet.show` line on, byte for byte;
// Tests/spottrainTests/ReadmeSnippetTests.swift keeps the two equal.
// snippet.show
import SpotTrain

// swift run -c release QuickStart [DATA_DIR] [CHECKPOINT_DIR] [EPOCHS]
// Run it again after an interruption: it continues from the newest valid checkpoint.
let arguments = Array(CommandLine.arguments.dropFirst())
let data = arguments.count > 0 ? arguments[0] : "Data/mnist"
let checkpoints = arguments.count > 1 ? arguments[1] : "checkpoints"
let epochs = arguments.count > 2 ? Int(arguments[2]) ?? 12 : 12

let (train, test) = try MNIST.load(from: data)
let rng = RandomGenerator(seed: 1)
let model = Models.mnistCNN(rng: rng)
let trainer = Trainer(model: model, optimizer: Adam(learningRate: 1e-3), rng: rng)
let directory = CheckpointDirectory(path: checkpoints)
let resume = try Resume.latest(from: directory, into: trainer, batchSize: 128, trainingCount: train.count)
try trainer.fit(train: train, validation: test, epochs: epochs, batchSize: 128, seed: resume?.seed ?? 1,
                callbacks: [ProgressBar(), ModelCheckpoint(directory: directory, everySteps: 100, keep: 3)],
                resumeFrom: resume?.progress)
print("test accuracy", trainer.evaluate(test).accuracy)
