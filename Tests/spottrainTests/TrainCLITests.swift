import Foundation
import Testing

@Suite struct TrainCLITests {
    @Test func missingDataDirectoryIsOneLineAndExitCode78() throws {
        let r = try ChildProcess.run(["train", "--data", "/nonexistent/mnist", "--quiet"])
        #expect(r.status == 78)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("spottrain: error: ") == true)
        #expect(r.stderr.contains("/nonexistent/mnist"))
    }

    @Test func usageErrorsExit64() throws {
        #expect(try ChildProcess.run(["train"]).status == 64)
        #expect(try ChildProcess.run(["train", "--data", "x", "--batch-size", "0"]).status == 64)
        #expect(try ChildProcess.run(["train", "--data", "x", "--keep", "2"]).status == 64)
    }

    @Test func corruptDataFileIsReported() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([0, 0, 8, 1, 0, 0])))
        }
        let r = try ChildProcess.run(["train", "--data", dir, "--quiet"])
        #expect(r.status == 78)
        #expect(r.stderr.hasPrefix("spottrain: error: "))
        #expect(r.stderr.contains("labels-idx1-ubyte"))
    }

    @Test func checkpointVerifyFailsWithoutValidCheckpoints() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/ckpt-000000000001.spt", contents: Data("not a checkpoint".utf8)))
        let r = try ChildProcess.run(["checkpoint", "verify", dir])
        #expect(r.status == 1)
        #expect(r.stdout.contains("ckpt-000000000001.spt: INVALID"))
        #expect(try ChildProcess.run(["checkpoint", "inspect", dir + "/ckpt-000000000001.spt"]).status == 1)
    }

    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST"))
    func sameSeedGivesSameWeightsAndSummaryHasEveryKey() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ name: String) throws -> [String: Any] {
            let r = try ChildProcess.run(["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "256", "--test-limit", "100",
                                 "--batch-size", "32", "--epochs", "1", "--seed", "3", "--threads", "2",
                                 "--summary", "\(dir)/\(name).json", "--metrics", "\(dir)/\(name).jsonl", "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
            return try Fixtures.summary("\(dir)/\(name).json")
        }
        let a = try run("a"), b = try run("b")
        for key in ["status", "epochs_completed", "global_step", "test_accuracy", "test_loss", "train_loss",
                    "samples_per_second", "wall_seconds", "weights_sha256", "resumed_from", "resumed_step", "checkpoint",
                    "checkpoints_saved", "checkpoint_save_seconds"] {
            #expect(a.keys.contains(key), "summary lacks \(key)")
        }
        #expect(a["status"] as? String == "completed")
        #expect(a["global_step"] as? Int == 8)
        #expect(a["checkpoints_saved"] as? Int == 0 && a["checkpoint_save_seconds"] as? Double == 0)
        #expect((a["weights_sha256"] as? String)?.count == 64)
        #expect(a["weights_sha256"] as? String == b["weights_sha256"] as? String)
        let lines = try String(contentsOfFile: "\(dir)/a.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("\"val_accuracy\""))
    }
}
