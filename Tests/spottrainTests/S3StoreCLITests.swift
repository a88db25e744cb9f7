import Foundation
import SpotTrain
import Testing

/// `spottrain train` with an S3 checkpoint store on moto (`SPOTTRAIN_MOTO_ENDPOINT`): the
/// store checked before training, every checkpoint uploaded, resume from the bucket alone
/// after SIGKILL (bit-identical), a corrupt object skipped, the emergency checkpoint of a
/// spot notice in the bucket before exit 75, `--keep` and `--fresh` in the bucket.
@Suite(.serialized,
       .enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"),
       .enabled(if: Moto.endpoint != nil, "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct S3StoreCLITests {
    /// 640 examples at batch 64: 10 steps per epoch; the run stops at step 25, in epoch 3.
    static func arguments(summary: String, saveEverySteps: Int = 1) -> [String] {
        ["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "640", "--test-limit", "100",
         "--batch-size", "64", "--epochs", "3", "--max-steps", "25", "--seed", "7", "--threads", "2",
         "--save-every-steps", "\(saveEverySteps)", "--summary", summary, "--quiet"]
    }

    /// The weights of the uninterrupted run without any store, computed once.
    static let referenceSHA: String? = {
        guard let root = try? Fixtures.temporaryDirectory() else { return nil }
        defer { try? FileManager.default.removeItem(atPath: root) }
        guard let run = try? ChildProcess.run(arguments(summary: root + "/s.json") + ["--checkpoint-dir", root + "/ckpt"],
                                              environment: .hermetic),
              run.status == 0, let summary = try? Fixtures.summary(root + "/s.json") else { return nil }
        return summary["weights_sha256"] as? String
    }()

    @Test func aStoreThatRefusesStopsTheRunBeforeTrainingWithExit78AndTheAWSCode() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let missing = "spottrain-missing-\(UUID().uuidString.prefix(8).lowercased())"
        let run = try await ChildProcess.run(Self.arguments(summary: root + "/s.json")
                                             + ["--checkpoint-dir", root + "/ckpt", "--checkpoint-mirror", "s3://\(missing)/run"],
                                             environment: MotoS3Bucket.environment())
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("NoSuchBucket"), "\(run.stderr)")
        #expect(run.stderr.contains("s3://\(missing)"), "\(run.stderr)")
        #expect(Fixtures.checkpointSteps(in: root + "/ckpt").isEmpty, "trained before checking the store")
        #expect(!run.stderr.contains("testing"), "a credential appears in the output: \(run.stderr)")
    }

    @Test func storeFlagsThatContradictEachOtherAreUsageErrors() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let base = Self.arguments(summary: root + "/s.json")
        for extra in [["--checkpoint-mirror", "s3://bucket/run"],
                      ["--checkpoint-dir", root + "/c", "--checkpoint-mirror", root + "/other"],
                      ["--checkpoint-dir", "s3://bucket/run", "--checkpoint-mirror", "s3://bucket/other"],
                      ["--checkpoint-dir", "s3://Bad_Bucket!/run"],
                      ["--checkpoint-dir", root + "/c", "--cache-dir", root + "/cache"],
                      ["--checkpoint-dir", root + "/c", "--s3-endpoint", "http://127.0.0.1:1"]] {
            let run = try await ChildProcess.run(base + extra, environment: MotoS3Bucket.environment())
            #expect(run.status == 64, "\(extra): \(run.stderr)")
        }
    }

    @Test func aFinishedRunHasItsLastCheckpointInTheBucketAndKeepAppliesThere() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await MotoS3Bucket.create()
        let run = try await ChildProcess.run(Self.arguments(summary: root + "/s.json", saveEverySteps: 4)
                                             + ["--checkpoint-dir", root + "/ckpt", "--keep", "2",
                                                "--checkpoint-mirror", "s3://\(bucket.name)/runs/a"],
                                             environment: MotoS3Bucket.environment())
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try Fixtures.summary(root + "/s.json")
        #expect(summary["checkpoint_store"] as? String == "s3://\(bucket.name)/runs/a")
        #expect(summary["checkpoint_uploaded"] as? String == "s3://\(bucket.name)/runs/a/ckpt-000000000025.spt")
        #expect(summary["upload_failures"] as? Int == 0)
        #expect((summary["uploads"] as? Int ?? 0) >= 1)
        #expect(summary["weights_sha256"] as? String == Self.referenceSHA)
        let steps = try await bucket.checkpointSteps(prefix: "runs/a")
        #expect(steps.last == 25)
        #expect(steps.count <= 2, "--keep 2 left \(steps) in the bucket")
        // The object is the local file, byte for byte, and no test object stays behind.
        let local = try Data(contentsOf: URL(fileURLWithPath: root + "/ckpt/ckpt-000000000025.spt"))
        #expect(try await bucket.object("runs/a/ckpt-000000000025.spt") == local)
        #expect(try await bucket.keys(prefix: "runs/a/").allSatisfy { $0.hasPrefix("runs/a/ckpt-") })
    }

    @Test func aRunKilledDuringUploadsResumesFromTheBucketAloneBitIdentically() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await MotoS3Bucket.create()
        let url = "s3://\(bucket.name)/run"
        let summary = root + "/s.json"
        // Saves every step, so that uploads are in flight (and superseded) all the time.
        let first = try ChildProcess(Self.arguments(summary: summary) + ["--checkpoint-dir", root + "/first",
                                                                         "--checkpoint-mirror", url],
                                     environment: MotoS3Bucket.environment())
        #expect(first.wait { (Fixtures.checkpointSteps(in: root + "/first").last ?? 0) >= 12 },
                "finished before step 12: \(first.stderr)")
        first.signal(SIGKILL)
        _ = first.waitForExit()
        let uploaded = try await bucket.checkpointSteps(prefix: "run")
        try #require(!uploaded.isEmpty, "nothing was uploaded before the kill: \(first.stderr)")

        // A new machine: nothing local; the bucket URL is the checkpoint directory.
        try FileManager.default.removeItem(atPath: root + "/first")
        let second = try await ChildProcess.run(Self.arguments(summary: summary)
                                                + ["--checkpoint-dir", url, "--cache-dir", root + "/cache"],
                                                environment: MotoS3Bucket.environment())
        #expect(second.status == 0, "\(second.stderr)")
        let done = try Fixtures.summary(summary)
        let resumedStep = try #require(done["resumed_step"] as? Int)
        #expect(resumedStep == uploaded.last, "resumed at \(resumedStep), the bucket's newest was \(uploaded)")
        #expect(done["resumed_from"] as? String == "\(url)/" + CheckpointDirectory.fileName(forGlobalStep: resumedStep))
        #expect(done["global_step"] as? Int == 25)
        #expect(done["weights_sha256"] as? String == Self.referenceSHA)
        #expect(try await bucket.checkpointSteps(prefix: "run").last == 25)
    }

    @Test func aCorruptObjectInTheBucketIsSkippedForTheNextOlderOne() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await MotoS3Bucket.create()
        let url = "s3://\(bucket.name)/run"
        let summary = root + "/s.json"
        let args = Self.arguments(summary: summary, saveEverySteps: 5) + ["--checkpoint-dir", root + "/a", "--checkpoint-mirror", url]
        let partial = try await ChildProcess.run(args + ["--max-steps", "10"], environment: MotoS3Bucket.environment())
        #expect(partial.status == 0, "\(partial.stderr)")
        // A newer object that is cut short (as a partial upload would be) and one that is complete
        // under a name its content contradicts.
        let good = try await bucket.object("run/ckpt-000000000010.spt")
        try await bucket.put("run/ckpt-000000000015.spt", good.prefix(good.count / 2))
        try await bucket.put("run/ckpt-000000000020.spt", good)

        let resumed = try await ChildProcess.run(Self.arguments(summary: summary) + ["--checkpoint-dir", root + "/b",
                                                                                      "--checkpoint-mirror", url],
                                                 environment: MotoS3Bucket.environment())
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("skipping checkpoint \(url)/ckpt-000000000020.spt"), "\(resumed.stderr)")
        #expect(resumed.stderr.contains("skipping checkpoint \(url)/ckpt-000000000015.spt"), "\(resumed.stderr)")
        let done = try Fixtures.summary(summary)
        #expect(done["resumed_step"] as? Int == 10)
        #expect(done["weights_sha256"] as? String == Self.referenceSHA)
        // What failed verification was never written into the local directory: the run's own
        // checkpoint of step 15 is a whole, valid file.
        let own = try CheckpointReader().verify(atPath: root + "/b/ckpt-000000000015.spt")
        #expect(own.globalStep == 15)
    }

    @Test func freshSetsTheBucketsCheckpointsAsideUnderReplaced() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await MotoS3Bucket.create()
        let url = "s3://\(bucket.name)/run"
        let args = Self.arguments(summary: root + "/s.json", saveEverySteps: 5) + ["--checkpoint-dir", root + "/a", "--checkpoint-mirror", url]
        #expect(try await ChildProcess.run(args + ["--max-steps", "10"], environment: MotoS3Bucket.environment()).status == 0)
        let before = try await bucket.checkpointSteps(prefix: "run")
        #expect(before.last == 10)
        let fresh = try await ChildProcess.run(args + ["--max-steps", "5", "--fresh"], environment: MotoS3Bucket.environment())
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let done = try Fixtures.summary(root + "/s.json")
        #expect(done["resumed_from"] is NSNull)
        #expect(try await bucket.checkpointSteps(prefix: "run") == [5])
        let aside = try await bucket.keys(prefix: "run/replaced-")
        #expect(aside.count == before.count, "\(aside)")
        #expect(aside.contains { $0.hasSuffix("/ckpt-000000000010.spt") })
    }

    @Test(.enabled(if: FakeIMDSServer.isAvailable, "needs python3 for Scripts/fake_imds.py"))
    func theEmergencyCheckpointOfASpotNoticeIsInTheBucketBeforeExit75() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await MotoS3Bucket.create()
        let url = "s3://\(bucket.name)/spot"
        let imds = try FakeIMDSServer()
        let dir = root + "/ckpt", summaryPath = root + "/s.json"
        let child = try ChildProcess(Self.arguments(summary: summaryPath) + ["--checkpoint-dir", dir, "--checkpoint-mirror", url,
                                                                             "--spot", "--imds-endpoint", imds.endpoint,
                                                                             "--poll-interval", "0.2"],
                                     environment: MotoS3Bucket.environment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint]))
        // Uploads run all the time (a save every step); the notice comes in the middle of them.
        #expect(child.wait { (Fixtures.checkpointSteps(in: dir).last ?? 0) >= 6 }, "finished early: \(child.stderr)")
        try imds.control("interrupt", #"{"action": "terminate", "in_seconds": 120}"#)
        let exit = await child.exited(killingAfter: .seconds(300))
        #expect(exit.status == 75, "\(child.stderr)")
        let summary = try Fixtures.summary(summaryPath)
        let interruption = try #require(summary["interruption"] as? [String: Any])
        let step = try #require(interruption["step"] as? Int)
        let name = CheckpointDirectory.fileName(forGlobalStep: step)
        #expect(interruption["upload"] as? String == "uploaded", "\(interruption)")
        #expect(interruption["uploaded_to"] as? String == "\(url)/\(name)")
        // In the bucket, byte for byte the local emergency checkpoint.
        let local = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        #expect(try await bucket.object("spot/\(name)") == local)
    }
}
