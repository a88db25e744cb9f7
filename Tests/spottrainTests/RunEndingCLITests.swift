import Foundation
import SpotTrain
import Testing

/// How `spottrain train` ends: failed saves, divergence, degenerate data, flags against a
/// checkpoint, and the exit statuses the shipped systemd units act on.
@Suite struct RunEndingCLITests {
    /// Writes MNIST-shaped raw IDX files: `train` and `test` examples of random pixels.
    static func writeData(train: Int, test: Int) throws -> String {
        let dir = try Fixtures.temporaryDirectory()
        var state: UInt32 = 12345
        func next() -> UInt8 {
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        func header(_ dims: [Int]) -> [UInt8] {
            var bytes: [UInt8] = [0, 0, 8, UInt8(dims.count)]
            for d in dims { bytes += withUnsafeBytes(of: UInt32(d).bigEndian) { Array($0) } }
            return bytes
        }
        for (prefix, n) in [("train", train), ("t10k", test)] {
            let images = header([n, 28, 28]) + (0..<(n * 784)).map { _ in next() }
            let labels = header([n]) + (0..<n).map { UInt8($0 % 10) }
            #expect(FileManager.default.createFile(atPath: "\(dir)/\(prefix)-images-idx3-ubyte", contents: Data(images)))
            #expect(FileManager.default.createFile(atPath: "\(dir)/\(prefix)-labels-idx1-ubyte", contents: Data(labels)))
        }
        return dir
    }

    static func train(_ data: String, _ extra: [String]) throws -> ChildProcess.Result {
        try ChildProcess.run(["train", "--data", data, "--batch-size", "32", "--threads", "1", "--quiet"] + extra)
    }

    @Test func failedFinalSaveExits1WithStatusSaveFailedAndNamesTheNewestGoodCheckpoint() throws {
        let data = try Self.writeData(train: 64, test: 16)
        let root = try Fixtures.temporaryDirectory()
        defer { for d in [data, root] { try? FileManager.default.removeItem(atPath: d) } }
        let ckpt = root + "/ckpt"
        // A directory where the final checkpoint (step 4) must go: its rename fails, as a
        // full disk or a failing device would make it fail; the step-2 save succeeds.
        try FileManager.default.createDirectory(atPath: ckpt + "/" + CheckpointDirectory.fileName(forGlobalStep: 4),
                                                withIntermediateDirectories: true)
        let r = try Self.train(data, ["--epochs", "2", "--checkpoint-dir", ckpt, "--summary", root + "/s.json"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("the last checkpoint save failed"), "\(r.stderr)")
        let summary = try Fixtures.summary(root + "/s.json")
        #expect(summary["status"] as? String == "save_failed")
        #expect(summary["global_step"] as? Int == 4)
        #expect((summary["checkpoint_failures"] as? Int ?? 0) >= 1)
        let newest = try #require(summary["checkpoint"] as? String)
        #expect(try CheckpointReader().verify(atPath: newest).globalStep == 2)
    }

    @Test func divergedRunExits78WithNullMetricsAndOnlyFiniteCheckpoints() throws {
        let data = try Self.writeData(train: 64, test: 16)
        let root = try Fixtures.temporaryDirectory()
        defer { for d in [data, root] { try? FileManager.default.removeItem(atPath: d) } }
        let ckpt = root + "/ckpt"
        let first = try Self.train(data, ["--epochs", "1", "--checkpoint-dir", ckpt])
        #expect(first.status == 0, "\(first.stderr)")
        // The same run continues with an absurd learning rate (which wins over the
        // checkpoint's, with a notice), saving at every step.
        let r = try Self.train(data, ["--epochs", "4", "--checkpoint-dir", ckpt, "--learning-rate", "1e30",
                                      "--save-every-steps", "1", "--summary", root + "/s.json", "--metrics", root + "/m.jsonl"])
        #expect(r.status == 78, "\(r.stderr)")
        #expect(r.stderr.contains("using --learning-rate"), "\(r.stderr)")
        #expect(r.stderr.contains("training diverged"), "\(r.stderr)")
        let summary = try Fixtures.summary(root + "/s.json")
        #expect(summary["status"] as? String == "diverged")
        #expect(summary["train_loss"] is NSNull && summary["test_loss"] is NSNull && summary["test_accuracy"] is NSNull)
        #expect(Fixtures.checkpointSteps(in: ckpt).contains(2), "the good checkpoint is kept")
        for step in Fixtures.checkpointSteps(in: ckpt) {
            let checkpoint = try CheckpointReader().read(atPath: ckpt + "/" + CheckpointDirectory.fileName(forGlobalStep: step))
            #expect(checkpoint.firstNonFiniteValue() == nil, "step \(step)")
        }
        let newest = try #require(summary["checkpoint"] as? String)
        #expect(try CheckpointReader().read(atPath: newest).firstNonFiniteValue() == nil)
    }

    @Test func degenerateSplitsHaveDefinedResults() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // No training examples: one line, exit 78 (no restart can fix the data).
        let empty = try Self.writeData(train: 0, test: 16)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let r = try Self.train(empty, ["--epochs", "1"])
        #expect(r.status == 78, "\(r.stderr)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("no examples"), "\(r.stderr)")
        // No test examples (an empty file, or --test-limit 0), fewer examples than a batch:
        // the run completes and the test metrics are null.
        let noTest = try Self.writeData(train: 5, test: 0)
        defer { try? FileManager.default.removeItem(atPath: noTest) }
        for (data, extra) in [(noTest, [String]()), (empty, ["--train-limit", "1"]), (noTest, ["--test-limit", "0"])] {
            let run = try Self.train(data, ["--epochs", "1", "--summary", root + "/s.json"] + extra)
            if data == empty {
                #expect(run.status == 78, "\(run.stderr)")
                continue
            }
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try Fixtures.summary(root + "/s.json")
            #expect(summary["status"] as? String == "completed")
            #expect(summary["test_loss"] is NSNull && summary["test_accuracy"] is NSNull)
            #expect(summary["global_step"] as? Int == 1)
        }
        #expect(try Self.train(noTest, ["--train-limit", "0"]).status == 64)
        #expect(try ChildProcess.run(["train", "--data", noTest, "--batch-size", "100000000"]).status == 64)
    }

    @Test func flagsAgainstACheckpointFollowOnePolicy() throws {
        let data = try Self.writeData(train: 64, test: 16)
        let root = try Fixtures.temporaryDirectory()
        defer { for d in [data, root] { try? FileManager.default.removeItem(atPath: d) } }
        let ckpt = root + "/ckpt"
        let first = try Self.train(data, ["--epochs", "1", "--checkpoint-dir", ckpt, "--learning-rate", "0.002", "--seed", "3"])
        #expect(first.status == 0, "\(first.stderr)")
        // Data-order flags that differ: refused, exit 64, nothing trained.
        for extra in [["--seed", "7"], ["--train-limit", "32"]] {
            let r = try ChildProcess.run(["train", "--data", data, "--threads", "1", "--quiet", "--epochs", "2",
                                          "--checkpoint-dir", ckpt] + extra)
            #expect(r.status == 64, "\(extra): \(r.stderr)")
            #expect(r.stderr.contains(extra[0]) && r.stderr.contains("--fresh"), "\(r.stderr)")
        }
        let batch = try ChildProcess.run(["train", "--data", data, "--threads", "1", "--quiet", "--epochs", "2",
                                          "--checkpoint-dir", ckpt, "--batch-size", "16"])
        #expect(batch.status == 64, "\(batch.stderr)")
        #expect(Fixtures.checkpointSteps(in: ckpt) == [2])
        // The same values given again, or not given: accepted. A new learning rate wins.
        let r = try Self.train(data, ["--epochs", "2", "--checkpoint-dir", ckpt, "--seed", "3", "--learning-rate", "0.0005",
                                      "--summary", root + "/s.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("using --learning-rate 0.0005 instead of the checkpoint's 0.002"), "\(r.stderr)")
        let saved = try CheckpointReader().read(atPath: ckpt + "/" + CheckpointDirectory.fileName(forGlobalStep: 4))
        #expect(saved.metadata.trainingState?.optimizer.hyperparameters["learningRate"] == 0.0005)
        #expect(try Fixtures.summary(root + "/s.json")["seed"] as? Int == 3)
        // --fresh starts over with the new values.
        let fresh = try Self.train(data, ["--epochs", "1", "--checkpoint-dir", ckpt, "--seed", "7", "--fresh"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
    }

    @Test func dataAndCheckpointErrorsNoRestartCanFixExit78() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Images and labels disagree: 64 images, 63 labels.
        let data = try Self.writeData(train: 64, test: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        var labels = [UInt8](try Data(contentsOf: URL(fileURLWithPath: data + "/train-labels-idx1-ubyte")))
        labels[7] = 63
        labels.removeLast()
        try Data(labels).write(to: URL(fileURLWithPath: data + "/train-labels-idx1-ubyte"))
        let r = try Self.train(data, ["--epochs", "1"])
        #expect(r.status == 78, "\(r.stderr)")
        #expect(r.stderr.contains("64 images") && r.stderr.contains("63 labels"), "\(r.stderr)")
    }

    @Test func shippedSystemdUnitsPreventRestartOnUsageAndConfigurationErrors() throws {
        // Every unit the repository ships: a file under Docs/ with `[Service]` and
        // `ExecStart=`, or any line `RestartPreventExitStatus=`. There must be exactly one,
        // Docs/examples/spottrain.service, which the boot recipe downloads unchanged.
        let docs = Fixtures.packageRoot.appendingPathComponent("Docs").path
        let files = try #require(FileManager.default.subpathsOfDirectory(atPath: docs) as [String]?)
        var units: [String] = []
        for name in files {
            let path = docs + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let isUnit = text.contains("[Service]") && text.contains("ExecStart=")
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("RestartPreventExitStatus=") }
            if isUnit || !lines.isEmpty { units.append(name) }
            if isUnit {
                #expect(!lines.isEmpty, "\(name) ships a unit without RestartPreventExitStatus=")
            }
            for line in lines {
                let statuses = Set(line.dropFirst("RestartPreventExitStatus=".count).split(separator: " ").map(String.init))
                #expect(statuses.isSuperset(of: ["64", "78"]), "\(name): \(line)")
            }
        }
        #expect(units == ["examples/spottrain.service"], "one unit file, no copies: \(units)")
    }
}
