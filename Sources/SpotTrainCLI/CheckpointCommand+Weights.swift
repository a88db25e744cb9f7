import ArgumentParser
import Foundation
import SpotTrain

/// The weights file formats `checkpoint export` and `checkpoint import` know.
enum WeightsFileFormat: String, ExpressibleByArgument, CaseIterable {
    /// safetensors (<https://github.com/huggingface/safetensors>), F32 tensors.
    case safetensors
}

extension CheckpointCommand {
    /// `spottrain checkpoint export --format safetensors CKPT OUT`.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the model weights of a training checkpoint to a safetensors file.",
            discussion: """
            OUT holds the model's parameters only (no optimizer state), F32, named as in the
            checkpoint (conv1.weight, …), in SpotTrain's layouts: NHWC images, conv kernels
            [kh, kw, in, out], dense weights [in, out], flatten in NHWC order; __metadata__
            records them (see Docs/Weights.md). OUT is written atomically. Exits 0 when written,
            1 when CKPT is missing or not a valid checkpoint or OUT cannot be written, 64 when
            CKPT is not a regular file or OUT's directory does not exist.
            """)

        @Option(help: "The weights file format (safetensors).")
        var format: WeightsFileFormat

        @Argument(help: "The training checkpoint (.spt).")
        var checkpoint: String

        @Argument(help: "The weights file to write.")
        var output: String

        func run() throws {
            try PathArguments.require(checkpoint, is: .inputFile, for: "CKPT")
            try PathArguments.require(output, is: .outputFile, for: "OUT")
            let count = try reportingErrors { () -> Int in
                let weights = try CheckpointReader().read(atPath: checkpoint)
                    .weights(metadata: ["source": (checkpoint as NSString).lastPathComponent])
                try weights.write(to: output)
                return weights.tensors.count
            }
            print("wrote \(count) tensor(s) to \(output)")
        }
    }

    /// `spottrain checkpoint import --format safetensors IN OUT`.
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a step-0 training checkpoint of the mnist_cnn model from a safetensors weights file.",
            discussion: """
            OUT is the checkpoint a new run `train` would write before its first step, with
            the weights of IN instead of the seeded initial ones: global step 0, fresh Adam
            state, the random generator as after initialising the model with --seed. Put it
            in an empty directory as ckpt-000000000000.spt and run `spottrain train
            --checkpoint-dir DIR` with the same --train-limit: the run starts from these weights
            (fine-tuning). IN must have exactly the parameters of mnist_cnn, F32, with their
            shapes. Exits 0 when written; 1 when IN is missing or not a valid safetensors file
            or OUT cannot be written; 78 when IN's tensors are not those of mnist_cnn; 64 for
            a path of the wrong kind, an OUT named for a step other than 0, or a bad value.
            """)

        @Option(help: "The weights file format (safetensors).")
        var format: WeightsFileFormat

        @Option(name: .customLong("batch-size"), help: "The batch size of the run to start (default 128).")
        var batchSize: Int = 128

        @Option(name: .customLong("learning-rate"), help: "Adam learning rate of the run (default 0.001).")
        var learningRate: Double = 0.001

        @Option(help: "Seed of the run's shuffling and dropout (default 1).")
        var seed: UInt64 = 1

        @Option(name: .customLong("training-count"),
                help: "Training examples of the run: its --train-limit, or the training set's size (default 60000).")
        var trainingCount: Int = 60_000

        @Argument(help: "The safetensors file to read.")
        var input: String

        @Argument(help: "The checkpoint file to write.")
        var output: String

        func validate() throws {
            guard (1...TrainCommand.maximumBatchSize).contains(batchSize) else {
                throw ValidationError("--batch-size must be between 1 and \(TrainCommand.maximumBatchSize)")
            }
            guard learningRate > 0 && Float(learningRate).isFinite else {
                throw ValidationError("--learning-rate must be a positive finite number")
            }
            guard trainingCount >= 1 else { throw ValidationError("--training-count must be at least 1") }
        }

        func run() throws {
            try PathArguments.require(input, is: .inputFile, for: "IN")
            try PathArguments.require(output, is: .outputFile, for: "OUT")
            let name = (output as NSString).lastPathComponent
            if let step = CheckpointDirectory.globalStep(fromFileName: name), step != 0 {
                printError("OUT \(output): the name is that of global step \(step); the checkpoint is of step 0 "
                           + "(\(CheckpointDirectory.fileName(forGlobalStep: 0)))")
                throw ExitCode(ExitStatus.usage)
            }
            try reportingErrors(status: Self.status) {
                let weights = try SafeTensors.read(atPath: input)
                let rng = RandomGenerator(seed: seed)
                let model = Models.mnistCNN(rng: rng)
                try model.loadWeights(weights, path: input)
                let trainer = Trainer(model: model, optimizer: Adam(learningRate: learningRate), rng: rng)
                let checkpoint = TrainingState.capture(trainer: trainer, progress: TrainingProgress(), seed: seed,
                                                       batchSize: batchSize, trainingCount: trainingCount)
                try CheckpointWriter().write(checkpoint, to: output)
            }
            print("wrote a step-0 checkpoint of mnist_cnn to \(output)")
        }

        /// 78 for weights of another model (no restart fixes them), 1 otherwise.
        static func status(_ error: Error) -> Int32 {
            guard let error = error as? WeightsError else { return ExitStatus.failure }
            switch error.code {
            case .missingTensor, .unexpectedTensor, .shapeMismatch: return ExitStatus.configuration
            default: return ExitStatus.failure
            }
        }
    }
}
