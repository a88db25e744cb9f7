import Foundation
import Testing
import SpotTrain

/// Data-parallel training under `mpirun -np 2` on loopback (`spottrain-mpi check`): the
/// summed gradients give identical weights on every rank, the same bits from run to run, and
/// the single-process result within float tolerance. Skipped, with a message, without `mpirun`.
///
/// The runs use 65 examples in global batches of 32 (32, 32, 1): the last batch gives rank 0
/// no row at all, which must still keep every rank in step.
@Suite(.serialized, .enabled(if: MPIRun.isAvailable, MPIRun.unavailableReason))
struct DataParallelTrainingTests {
    static func arguments(weightsOut: String? = nil, extra: [String] = []) -> [String] {
        ["check", "--data", MPIRun.mnistDirectory ?? "", "--train-limit", "65", "--batch-size", "32", "--epochs", "1",
         "--seed", "3"] + (weightsOut.map { ["--weights-out", $0] } ?? []) + extra
    }

    @Test func twoRankRunsAreBitIdenticalAndRanksHoldIdenticalWeights() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var summaries: [[String: Any]] = []
        let algorithms = ["reduce-scatter", "reduce-scatter", "allgather", "gather-broadcast"]
        for (run, algorithm) in algorithms.enumerated() {
            let outcome = try MPIRun.run(ranks: 2, Self.arguments(weightsOut: "\(dir)/w\(run).safetensors",
                                                                   extra: ["--algorithm", algorithm]))
            #expect(outcome.status == 0, "run \(run): \(outcome.stderr)")
            let summary = try outcome.json()
            #expect(summary["world_size"] as? Int == 2)
            #expect(summary["steps_by_rank"] as? [Int] == [3, 3])
            let checksums = try #require(summary["weights_checksums"] as? [String])
            #expect(checksums.count == 2 && checksums[0] == checksums[1], "ranks differ: \(checksums)")
            #expect(summary["samples"] as? Int == 65, "every rank's examples count once")
            summaries.append(summary)
        }
        let sums = summaries.map { $0["weights_checksums"] as? [String] ?? [] }
        #expect(sums[0] == sums[1], "two identical 2-rank runs differ")
        for run in 2..<algorithms.count {
            #expect(sums[0] == sums[run], "the \(algorithms[run]) sum differs from the reduce-scatter sum")
        }
        let losses = summaries.map { ($0["step_losses"] as? [Double]) ?? [] }
        #expect(losses[0].count == 3 && losses.allSatisfy { $0 == losses[0] })
        let files = try algorithms.indices.map { try Data(contentsOf: URL(fileURLWithPath: "\(dir)/w\($0).safetensors")) }
        #expect(files.allSatisfy { $0 == files[0] })
    }

    @Test func twoRanksMatchOneRankWithinTolerance() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var losses: [[Double]] = []
        for ranks in [1, 2] {
            let outcome = try MPIRun.run(ranks: ranks, Self.arguments(weightsOut: "\(dir)/w\(ranks).safetensors"))
            #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
            let summary = try outcome.json()
            #expect(summary["world_size"] as? Int == ranks)
            losses.append((summary["step_losses"] as? [Double]) ?? [])
        }
        #expect(losses[0].count == 3 && losses[1].count == 3)
        for (one, two) in zip(losses[0], losses[1]) { #expect(abs(one - two) <= 1e-4, "losses \(losses)") }
        let models = try [1, 2].map { ranks in
            let model = Models.mnistCNN(rng: RandomGenerator(seed: 0))
            try model.loadWeights(from: "\(dir)/w\(ranks).safetensors")
            return model.parameters.flatMap(\.value.scalars)
        }
        #expect(models[0].count == models[1].count && models[0] != [])
        let worst = zip(models[0], models[1]).map { abs($0 - $1) }.max() ?? .infinity
        // Adam's first steps move every weight by about the learning rate (1e-3) whatever the
        // gradient's size, so a difference well below it means the same update.
        #expect(worst <= 1e-5, "largest weight difference between 1 and 2 ranks: \(worst)")
    }

    @Test func anInterruptionOnOneRankStopsEveryRankAtTheSameStep() throws {
        for rank in [0, 1] {
            let outcome = try MPIRun.run(ranks: 2, Self.arguments(extra: ["--interrupt-at-step", "1", "--interrupt-rank", String(rank)]))
            #expect(outcome.status == 0, "interrupting rank \(rank): \(outcome.stderr)")
            let summary = try outcome.json()
            #expect(summary["status"] as? String == "interrupted", "interrupting rank \(rank): \(summary)")
            #expect(summary["steps_by_rank"] as? [Int] == [2, 2], "interrupting rank \(rank): \(summary)")
            let checksums = summary["weights_checksums"] as? [String] ?? []
            #expect(checksums.count == 2 && checksums[0] == checksums[1])
        }
    }
}
