import Foundation
import Testing
import SpotTrain

@Suite struct WeightsCLITests {
    /// Trains a short run with checkpoints and returns (directory, summary, newest checkpoint).
    static func trainShortRun(_ dir: String, trainLimit: Int, testLimit: Int, steps: Int) throws -> ([String: Any], String) {
        let r = try ChildProcess.run(["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "\(trainLimit)",
                                      "--test-limit", "\(testLimit)", "--max-steps", "\(steps)", "--batch-size", "32",
                                      "--checkpoint-dir", dir + "/ckpt", "--summary", dir + "/summary.json", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let step = try #require(Fixtures.checkpointSteps(in: dir + "/ckpt").max())
        #expect(step == steps)
        return (try Fixtures.summary(dir + "/summary.json"),
                dir + "/ckpt/" + CheckpointDirectory.fileName(forGlobalStep: step))
    }

    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST"))
    func exportImportRoundTripAndTrainStartsFromTheImport() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (summary, checkpoint) = try Self.trainShortRun(dir, trainLimit: 256, testLimit: 0, steps: 3)

        let export = try ChildProcess.run(["checkpoint", "export", "--format", "safetensors", checkpoint, dir + "/w.safetensors"])
        #expect(export.status == 0, "\(export.stderr)")
        let weights = try SafeTensors.read(atPath: dir + "/w.safetensors")
        let saved = try CheckpointReader().read(atPath: checkpoint)
        #expect(weights.tensors.map(\.name) == saved.metadata.modelSignature.parameters.map(\.name))
        for t in weights.tensors {
            let original = try #require(saved.tensor(named: t.name))
            #expect(t.tensor.shape == original.shape)
            #expect(t.tensor.buffer.map(\.bitPattern) == original.buffer.map(\.bitPattern), "\(t.name)")
        }
        #expect(weights.metadata["format"] == "spottrain")
        #expect(weights.metadata["global_step"] == "3")
        // The mnist_cnn model loads them, and then holds exactly the run's final weights.
        let model = Models.mnistCNN(rng: RandomGenerator(seed: 7))
        try model.loadWeights(from: dir + "/w.safetensors")
        let fingerprint = saved.metadata.modelSignature.parameters.flatMap { p in
            saved.tensor(named: p.name)!.buffer.map(\.bitPattern)
        }
        #expect(model.parameters.flatMap { $0.value.buffer.map(\.bitPattern) } == fingerprint)
        #expect(summary["status"] as? String == "max_steps")

        // Import, then export again: the same tensors, bit for bit.
        let imported = dir + "/import/" + CheckpointDirectory.fileName(forGlobalStep: 0)
        try FileManager.default.createDirectory(atPath: dir + "/import", withIntermediateDirectories: true)
        let importRun = try ChildProcess.run(["checkpoint", "import", "--format", "safetensors", "--batch-size", "32",
                                              "--training-count", "256", dir + "/w.safetensors", imported])
        #expect(importRun.status == 0, "\(importRun.stderr)")
        #expect(try ChildProcess.run(["checkpoint", "verify", dir + "/import"]).status == 0)
        let again = try ChildProcess.run(["checkpoint", "export", "--format", "safetensors", imported, dir + "/again.safetensors"])
        #expect(again.status == 0, "\(again.stderr)")
        let reexported = try SafeTensors.read(atPath: dir + "/again.safetensors")
        #expect(reexported.tensors.map(\.name) == weights.tensors.map(\.name))
        for (a, b) in zip(reexported.tensors, weights.tensors) {
            #expect(a.tensor.buffer.map(\.bitPattern) == b.tensor.buffer.map(\.bitPattern), "\(a.name)")
        }
        #expect(reexported.metadata["global_step"] == "0")

        // train starts from the imported weights (a resume at step 0) and runs on.
        let run = try ChildProcess.run(["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "256", "--test-limit", "0",
                                        "--max-steps", "2", "--checkpoint-dir", dir + "/import", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("resuming from") && run.stderr.contains("global step 0"), "\(run.stderr)")
        #expect(Fixtures.checkpointSteps(in: dir + "/import").max() == 2)
    }

    @Test func exportAndImportRefuseBadPathsAndFiles() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let garbage = dir + "/garbage"
        #expect(FileManager.default.createFile(atPath: garbage, contents: Data("not a file of any kind".utf8)))
        let out = dir + "/out"

        // Paths of the wrong kind: 64, before anything is read.
        for args in [["export", "--format", "safetensors", dir, out],
                     ["export", "--format", "safetensors", garbage, dir + "/no/such/dir/out"],
                     ["import", "--format", "safetensors", dir, out],
                     ["import", "--format", "safetensors", garbage, dir + "/no/such/dir/out"],
                     ["import", "--format", "safetensors", garbage, dir + "/ckpt-000000000005.spt"],
                     ["export", garbage, out],
                     ["export", "--format", "onnx", garbage, out],
                     ["import", "--format", "safetensors", "--batch-size", "0", garbage, out]] {
            let r = try ChildProcess.run(["checkpoint"] + args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
        }
        // Missing or invalid input files: 1, one line naming the file.
        for args in [["export", "--format", "safetensors", dir + "/missing.spt", out],
                     ["export", "--format", "safetensors", garbage, out],
                     ["import", "--format", "safetensors", dir + "/missing.safetensors", out],
                     ["import", "--format", "safetensors", garbage, out]] {
            let r = try ChildProcess.run(["checkpoint"] + args)
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderrLines.count == 1 && r.stderr.hasPrefix("spottrain: error: "), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))

        // Weights of another model: 78, naming the tensor and both shapes.
        let other = Sequential([Dense(inputFeatures: 4, outputFeatures: 2, rng: RandomGenerator(seed: 1))])
        try other.saveWeights(to: dir + "/other.safetensors")
        let wrongModel = try ChildProcess.run(["checkpoint", "import", "--format", "safetensors", dir + "/other.safetensors", out])
        #expect(wrongModel.status == 78, "\(wrongModel.stderr)")
        #expect(wrongModel.stderr.contains("other.safetensors"))
        var weights = Models.mnistCNN(rng: RandomGenerator(seed: 1)).weights()
        weights.tensors[6] = NamedTensor(name: "dense2.weight", tensor: Tensor.zeros([10, 128]))
        try weights.write(to: dir + "/transposed.safetensors")
        let wrongShape = try ChildProcess.run(["checkpoint", "import", "--format", "safetensors", dir + "/transposed.safetensors", out])
        #expect(wrongShape.status == 78, "\(wrongShape.stderr)")
        #expect(wrongShape.stderr.contains("dense2.weight") && wrongShape.stderr.contains("[10, 128]")
                && wrongShape.stderr.contains("[128, 10]"), "\(wrongShape.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// The acceptance check: numpy + safetensors reproduce the run's test accuracy.
    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST"))
    func pythonForwardPassReproducesTestAccuracy() throws {
        guard let python = ProcessInfo.processInfo.environment["SPOTTRAIN_SAFETENSORS_PYTHON"], !python.isEmpty else {
            print("skipped pythonForwardPassReproducesTestAccuracy: set SPOTTRAIN_SAFETENSORS_PYTHON to a Python with "
                  + "numpy and safetensors (Scripts/ci/safetensors-venv.sh prints one)")
            return
        }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (summary, checkpoint) = try Self.trainShortRun(dir, trainLimit: 2000, testLimit: 1000, steps: 30)
        let export = try ChildProcess.run(["checkpoint", "export", "--format", "safetensors", checkpoint, dir + "/w.safetensors"])
        #expect(export.status == 0, "\(export.stderr)")
        let script = Fixtures.packageRoot.appendingPathComponent("Scripts/safetensors_forward.py").path
        let r = try ChildProcess.run([script, dir + "/w.safetensors", Fixtures.mnistDirectory!, "--test-limit", "1000"],
                                     executable: URL(fileURLWithPath: python))
        #expect(r.status == 0, "\(r.stderr)")
        let result = try r.json()
        let expected = try #require(summary["test_accuracy"] as? Double)
        let reproduced = try #require(result["test_accuracy"] as? Double)
        #expect(result["count"] as? Int == 1000)
        #expect(abs(reproduced - expected) <= 1e-4, "numpy \(reproduced), spottrain \(expected)")
        #expect(result["weights_sha256"] as? String == summary["weights_sha256"] as? String)
    }
}
