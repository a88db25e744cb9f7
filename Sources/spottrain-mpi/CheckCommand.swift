import ArgumentParser
import SpotTrain
import SpotTrainMPI
import Foundation

/// `spottrain-mpi check`: trains the MNIST CNN data-parallel for a few steps without
/// checkpoints and prints, from rank 0, one JSON object that shows whether the ranks agree
/// (a checksum of every rank's weights), the per-step losses, and the time spent communicating.
/// It verifies an MPI setup before a long run and is what the MPI tests run.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Train a few data-parallel steps and report whether all ranks hold the same weights."
    )

    @Option(help: "Directory holding the MNIST IDX files.")
    var data: String

    @Option(help: "Use only the first N training examples.")
    var trainLimit: Int?

    @Option(help: "The global batch size (shared by all ranks).")
    var batchSize: Int = 64

    @Option(help: "Epochs to train.")
    var epochs: Int = 1

    @Option(help: "Stop after this many steps in total.")
    var maxSteps: Int?

    @Option(help: "Seed for the weights, the shuffle and dropout.")
    var seed: UInt64 = 1

    @Option(help: "Adam learning rate.")
    var learningRate: Double = 0.001

    @Option(help: "Threads per rank for SpotTrain's loops.")
    var threads: Int = 1

    @Option(help: "How gradients are summed: reduce-scatter, allgather or gather-broadcast (the same bits in every case).")
    var algorithm: String = Communicator.SumAlgorithm.reduceScatter.rawValue

    @Option(help: "Rank 0 writes the final weights here (safetensors).")
    var weightsOut: String?

    @Option(help: "Raise an interruption on rank --interrupt-rank before this global step (tests the agreed stop).")
    var interruptAtStep: Int?

    @Option(help: "The rank that raises the interruption of --interrupt-at-step.")
    var interruptRank: Int = 0

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard epochs >= 0 else { throw ValidationError("--epochs must not be negative, got \(epochs)") }
        guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
        guard Communicator.SumAlgorithm(rawValue: algorithm) != nil else {
            throw ValidationError("--algorithm must be one of \(Communicator.SumAlgorithm.allCases.map(\.rawValue)), got \(algorithm)")
        }
    }

    func run() throws {
        let world = try Communicator.world()
        do {
            try check(world)
            try world.finalize()
        } catch {
            writeError("spottrain-mpi: rank \(world.rank) of \(world.size): error: \(error)\n")
            // The other ranks may be waiting in a collective: end them all.
            world.abort(status: 1)
        }
    }

    private func check(_ world: Communicator) throws {
        world.sumAlgorithm = Communicator.SumAlgorithm(rawValue: algorithm) ?? .reduceScatter
        Threading.configure(threads: threads)
        let (train, _) = try MNIST.load(from: data, trainLimit: trainLimit, testLimit: 0)
        let rng = RandomGenerator(seed: seed)
        let model = Models.mnistCNN(rng: rng)
        let trainer = Trainer(model: model, optimizer: Adam(learningRate: learningRate), rng: rng)
        let flag = InterruptionFlag()
        let reducer = MPIGradientReducer(communicator: world, localInterruptions: flag)
        trainer.gradientReducer = reducer
        let losses = StepLosses()
        var callbacks: [Callback] = [losses, CoordinatedStop(source: reducer.interruptions)]
        if let interruptAtStep, world.rank == interruptRank {
            callbacks.append(RaiseAtStep(step: interruptAtStep, flag: flag))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let context = try trainer.fit(train: train, epochs: epochs, batchSize: batchSize, seed: seed,
                                      maxSteps: maxSteps, callbacks: callbacks)
        let seconds = start.duration(to: clock.now).seconds

        let checksums = try world.allgather(Self.checksum(model.parameters))
        let stepsByRank = try world.allgather(UInt64(context.globalStep))
        if world.isRoot, let weightsOut {
            try model.saveWeights(to: weightsOut, metadata: ["world_size": String(world.size)])
        }
        try world.barrier()
        guard world.isRoot else { return }
        let summary: [String: Any] = [
            "status": context.status.rawValue,
            "world_size": world.size,
            "algorithm": world.sumAlgorithm.rawValue,
            "steps": context.globalStep,
            "steps_by_rank": stepsByRank.map { Int($0) },
            "weights_checksums": checksums.map { String(format: "%016llx", $0) },
            "ranks_agree": Set(checksums).count == 1,
            "step_losses": losses.values.map { Double($0) },
            "loss": context.logs["loss"] ?? Double.nan,
            "accuracy": context.logs["accuracy"] ?? Double.nan,
            "samples": context.progress.trainingSamples,
            "seconds": seconds,
            "samples_per_second": Double(context.progress.trainingSamples) / max(seconds, 1e-9),
            "communication_seconds": reducer.communicationSeconds,
            "communication_seconds_per_step": reducer.communicationSeconds / Double(max(reducer.steps, 1)),
        ]
        let json = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }

    /// FNV-1a over the parameters' bytes, in model order.
    static func checksum(_ parameters: [Parameter]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for p in parameters {
            let bytes = UnsafeRawBufferPointer(start: p.value.pointer, count: p.value.count * MemoryLayout<Float>.size)
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        }
        return hash
    }
}

/// Records every step's (global) loss.
final class StepLosses: Callback {
    private(set) var values: [Float] = []
    func batchEnd(_ context: TrainingContext) throws {
        if let loss = context.lastStep?.loss { values.append(loss) }
    }
}

/// Raises an interruption on this rank before global step `step` is trained.
final class RaiseAtStep: Callback {
    let step: Int
    let flag: InterruptionFlag
    init(step: Int, flag: InterruptionFlag) {
        self.step = step
        self.flag = flag
    }
    func batchBegin(_ context: TrainingContext) throws {
        if context.globalStep == step {
            flag.raise(InterruptionRequest(kind: .signal, deadline: nil, detectedAt: Date(), reason: "--interrupt-at-step \(step)"))
        }
    }
}

func writeError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
