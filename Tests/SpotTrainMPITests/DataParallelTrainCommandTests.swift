import Foundation
import SpotTrain
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `spottrain-mpi train` under `mpirun` on loopback: the flags, checkpoints and exit statuses
/// of `spottrain train`, data-parallel. Skipped, with a message, without `mpirun`.
@Suite(.serialized, .enabled(if: MPIRun.isAvailable, MPIRun.unavailableReason))
struct DataParallelTrainCommandTests {
    /// A short run: `limit` examples in global batches of 32, one thread per rank.
    static func arguments(_ dir: String, name: String, limit: Int = 96, extra: [String] = []) -> [String] {
        ["train", "--data", MPIRun.mnistDirectory ?? "", "--train-limit", String(limit), "--test-limit", "64",
         "--batch-size", "32", "--epochs", "1", "--seed", "3", "--threads", "1", "--quiet",
         "--checkpoint-dir", "\(dir)/\(name)-ckpt", "--summary", "\(dir)/\(name).json"] + extra
    }

    @Test func twoRankTrainRunsAreBitIdenticalAndEveryRankHoldsTheSameWeights() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var summaries: [[String: Any]] = []
        for run in ["a", "b"] {
            let outcome = try MPIRun.run(ranks: 2, Self.arguments(dir, name: run, extra: ["--metrics", "\(dir)/\(run).jsonl"]))
            #expect(outcome.status == 0, "run \(run): \(outcome.stderr)")
            let summary = try MPIRun.summary(at: "\(dir)/\(run).json")
            #expect(summary["status"] as? String == "completed")
            #expect(summary["global_step"] as? Int == 3)
            #expect(summary["world_size"] as? Int == 2)
            #expect((summary["communication_seconds"] as? Double).map { $0 >= 0 } == true)
            let ranks = try #require(summary["rank_weights_checksums"] as? [String])
            #expect(ranks.count == 2 && ranks[0] == ranks[1], "the ranks' weights differ: \(ranks)")
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(run).jsonl"))
            #expect(MPIRun.checkpointSteps(in: "\(dir)/\(run)-ckpt") == [3])
            summaries.append(summary)
        }
        let hashes = summaries.map { $0["weights_sha256"] as? String }
        #expect(hashes[0] != nil && hashes[0] == hashes[1], "two identical 2-rank runs differ: \(hashes)")
    }

    @Test func twoRankTrainMatchesOneRankWithinTolerance() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var summaries: [[String: Any]] = []
        for ranks in [1, 2] {
            let outcome = try MPIRun.run(ranks: ranks, Self.arguments(dir, name: "np\(ranks)"))
            #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
            let summary = try MPIRun.summary(at: "\(dir)/np\(ranks).json")
            #expect(summary["world_size"] as? Int == ranks)
            summaries.append(summary)
        }
        for key in ["train_loss", "test_loss", "test_accuracy"] {
            let one = try #require(summaries[0][key] as? Double), two = try #require(summaries[1][key] as? Double)
            #expect(abs(one - two) <= 1e-3 * max(1, abs(one)), "\(key): 1 rank \(one), 2 ranks \(two)")
        }
    }

    @Test func sigtermToOneRankStopsEveryRankWithStatus75AndOneRankResumes() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 20 steps, a checkpoint every 2: the signal lands mid-run.
        let arguments = Self.arguments(dir, name: "term", limit: 640, extra: ["--save-every-steps", "2"])
        let job = try MPIRun.start(ranks: 2, arguments, marker: "\(dir)/term-ckpt")
        #expect(MPIRun.waitUntil { !MPIRun.checkpointSteps(in: "\(dir)/term-ckpt").isEmpty || !job.process.isRunning })
        let rank1 = try #require(job.pid(ofRank: 1), "rank 1 not found")
        kill(rank1, SIGTERM)
        let outcome = job.wait()
        #expect(outcome.status == 75, "mpirun: \(outcome.status)\n\(outcome.stderr)")
        let stopped = try MPIRun.summary(at: "\(dir)/term.json")
        #expect(stopped["status"] as? String == "interrupted", "\(stopped)")
        let step = try #require(stopped["global_step"] as? Int)
        #expect(step < 20)
        #expect(MPIRun.checkpointSteps(in: "\(dir)/term-ckpt").last == step, "one checkpoint of the step all ranks stopped at")
        let ranks = try #require(stopped["rank_weights_checksums"] as? [String])
        #expect(ranks.count == 2 && ranks[0] == ranks[1])

        // Resume with one rank: the same global step and data position, then to the end.
        let resumed = try MPIRun.run(ranks: 1, arguments, timeout: 900)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let done = try MPIRun.summary(at: "\(dir)/term.json")
        #expect(done["status"] as? String == "completed")
        #expect(done["resumed_step"] as? Int == step)
        #expect(done["global_step"] as? Int == 20)
        #expect(done["world_size"] as? Int == 1)
    }

    @Test func killingOneRankEndsTheJobAndARestartMatchesAnUninterruptedRun() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = try MPIRun.run(ranks: 2, Self.arguments(dir, name: "whole", limit: 640), timeout: 900)
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try MPIRun.summary(at: "\(dir)/whole.json")["weights_sha256"] as? String

        let arguments = Self.arguments(dir, name: "kill", limit: 640, extra: ["--save-every-steps", "2"])
        let job = try MPIRun.start(ranks: 2, arguments, marker: "\(dir)/kill-ckpt")
        #expect(MPIRun.waitUntil { !MPIRun.checkpointSteps(in: "\(dir)/kill-ckpt").isEmpty || !job.process.isRunning })
        let rank1 = try #require(job.pid(ofRank: 1), "rank 1 not found")
        kill(rank1, SIGKILL)
        let killed = job.wait()
        #expect(killed.status != 0, "mpirun must not report success after a rank was killed")
        let steps = MPIRun.checkpointSteps(in: "\(dir)/kill-ckpt")
        #expect(!steps.isEmpty && steps.last.map { $0 < 20 } == true, "steps \(steps)")

        // The newest checkpoint is intact: a 2-rank restart resumes from it and ends with
        // the uninterrupted run's exact weights.
        let restarted = try MPIRun.run(ranks: 2, arguments, timeout: 900)
        #expect(restarted.status == 0, "\(restarted.stderr)")
        let done = try MPIRun.summary(at: "\(dir)/kill.json")
        #expect(done["resumed_step"] as? Int == steps.last)
        #expect(done["global_step"] as? Int == 20)
        #expect(done["weights_sha256"] as? String == expected, "the restarted run differs from the uninterrupted one")
    }

    @Test func rankStatusLinesAreReadExactly() {
        let stderr = "x\n[1,0]<stderr>:spottrain-mpi rank 0 exit 1\nspottrain-mpi rank 1 exit 75\nspottrain-mpi rank 7 exit 0\n"
        #expect(MPIRun.rankStatuses(in: stderr, ranks: 2) == [1, 75])
        #expect(MPIRun.rankStatuses(in: "spottrain-mpi rank 1 exit\nspottrain-mpi rank 0 exit 1 more\n", ranks: 2) == [nil, nil])
    }

    /// Only rank 0 writes, so only rank 0 sees a save fail; every rank must still end with
    /// rank 0's status (none left waiting), and the good checkpoints stay.
    @Test func aSaveThatFailsOnRankZeroGivesEveryRankItsStatus() throws {
        let dir = try MPIRun.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 3 steps, a save after each. A directory where a checkpoint must go makes its
        // rename fail, as a full disk or a failing device would.
        func block(_ name: String, step: Int) throws {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(name)-ckpt/" + CheckpointDirectory.fileName(forGlobalStep: step),
                                                    withIntermediateDirectories: true)
        }
        // The checkpoint files (not the blocking directory).
        func savedSteps(_ name: String) -> [Int] {
            MPIRun.checkpointSteps(in: "\(dir)/\(name)-ckpt").filter { step in
                var isDirectory: ObjCBool = false
                let path = "\(dir)/\(name)-ckpt/" + CheckpointDirectory.fileName(forGlobalStep: step)
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
        }

        // The final save fails: every rank exits 1 and the summary names the newest good one.
        try block("final", step: 3)
        let final = try MPIRun.run(ranks: 2, Self.arguments(dir, name: "final", extra: ["--save-every-steps", "1"]),
                                   reportingEachRank: true)
        #expect(MPIRun.rankStatuses(in: final.stderr, ranks: 2) == [1, 1], "each rank's status:\n\(final.stderr)")
        #expect(final.stderr.contains("the last checkpoint save failed"), "\(final.stderr)")
        let failed = try MPIRun.summary(at: "\(dir)/final.json")
        #expect(failed["status"] as? String == "save_failed", "\(failed)")
        #expect(failed["global_step"] as? Int == 3)
        let newest = try #require(failed["checkpoint"] as? String)
        #expect(try CheckpointReader().verify(atPath: newest).globalStep == 2)
        #expect(savedSteps("final") == [1, 2])
        let ranks = try #require(failed["rank_weights_checksums"] as? [String])
        #expect(ranks.count == 2 && ranks[0] == ranks[1])

        // A save in the middle fails: training goes on on every rank, and the final save
        // succeeds, so the run ends well with the failure counted.
        try block("middle", step: 2)
        let middle = try MPIRun.run(ranks: 2, Self.arguments(dir, name: "middle", extra: ["--save-every-steps", "1"]),
                                    reportingEachRank: true)
        #expect(MPIRun.rankStatuses(in: middle.stderr, ranks: 2) == [0, 0], "each rank's status:\n\(middle.stderr)")
        let recovered = try MPIRun.summary(at: "\(dir)/middle.json")
        #expect(recovered["status"] as? String == "completed", "\(recovered)")
        #expect(recovered["checkpoint_failures"] as? Int == 1)
        #expect(savedSteps("middle") == [1, 3])
    }
}
