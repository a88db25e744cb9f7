import Foundation
import SpotTrain
import Testing

/// `spottrain train` interrupted for real: a spot notice from a fake IMDS, SIGTERM, a notice
/// past its deadline (saved anyway), IMDS failures, and a failing emergency save. Every
/// child's IMDS endpoint is a loopback address.
@Suite(.serialized, .enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"),
       .enabled(if: FakeIMDSServer.isAvailable, "needs python3 for Scripts/fake_imds.py"))
struct SpotInterruptionCLITests {
    /// 640 examples at batch 64: 10 steps per epoch; the run stops at step 25, in epoch 3.
    static func arguments(checkpointDir: String, summary: String, saveEverySteps: Int? = 4) -> [String] {
        var args = ["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "640", "--test-limit", "100",
                    "--batch-size", "64", "--epochs", "3", "--max-steps", "25", "--seed", "3", "--threads", "2",
                    "--checkpoint-dir", checkpointDir, "--summary", summary, "--quiet"]
        if let saveEverySteps { args += ["--save-every-steps", "\(saveEverySteps)"] }
        return args
    }

    static func spotArguments(_ imds: String) -> [String] {
        ["--spot", "--imds-endpoint", imds, "--poll-interval", "0.2"]
    }

    /// The weights of the uninterrupted run, computed once.
    static let referenceSHA: String? = {
        guard let root = try? Fixtures.temporaryDirectory() else { return nil }
        defer { try? FileManager.default.removeItem(atPath: root) }
        guard let run = try? ChildProcess.run(arguments(checkpointDir: root + "/ckpt", summary: root + "/s.json"),
                                              environment: .loopbackIMDS()),
              run.status == 0,
              let summary = try? Fixtures.summary(root + "/s.json") else { return nil }
        return summary["weights_sha256"] as? String
    }()

    /// Checks the interrupted run's checkpoint: it verifies and holds the summary's step.
    static func verifyCheckpoint(of summary: [String: Any]) throws -> Int {
        let step = try #require(summary["global_step"] as? Int)
        let path = try #require(summary["checkpoint"] as? String)
        let metadata = try CheckpointReader().verify(atPath: path)
        #expect(metadata.globalStep == step, "checkpoint \(path) holds step \(metadata.globalStep), the run stopped at \(step)")
        return step
    }

    /// Restarts without --spot and checks that the run finishes with the reference weights.
    static func finishAndCompare(checkpointDir: String, summary: String, resumedStep: Int) throws {
        let restart = try ChildProcess.run(arguments(checkpointDir: checkpointDir, summary: summary), environment: .loopbackIMDS())
        #expect(restart.status == 0, "\(restart.stderr)")
        let done = try Fixtures.summary(summary)
        #expect(done["status"] as? String == "max_steps")
        #expect(done["global_step"] as? Int == 25)
        #expect(done["resumed_step"] as? Int == resumedStep)
        let expectedSHA = try #require(referenceSHA)
        #expect(done["weights_sha256"] as? String == expectedSHA)
    }

    @Test func spotNoticeAtARandomMomentExits75WithACurrentCheckpointAndResumesBitExactly() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let imds = try FakeIMDSServer()
        let dir = root + "/ckpt", summaryPath = root + "/s.json"
        let child = try ChildProcess(Self.arguments(checkpointDir: dir, summary: summaryPath) + Self.spotArguments(imds.endpoint),
                                     environment: .loopbackIMDS(imds.endpoint))
        // A random moment after the first checkpoint.
        #expect(child.wait { !Fixtures.checkpointSteps(in: dir).isEmpty }, "finished before the first checkpoint: \(child.stderr)")
        usleep(UInt32.random(in: 0..<300_000))
        try imds.control("interrupt", #"{"action": "terminate", "in_seconds": 120}"#)
        let exit = child.waitForExit()
        #expect(exit.status == 75, "\(child.stderr)")

        let summary = try Fixtures.summary(summaryPath)
        #expect(summary["status"] as? String == "interrupted")
        let interruption = try #require(summary["interruption"] as? [String: Any])
        #expect(interruption["kind"] as? String == "terminate")
        #expect(interruption["outcome"] as? String == "saved" || interruption["outcome"] as? String == "already_saved")
        #expect(interruption["checkpoint_current"] as? Bool == true)
        let step = try Self.verifyCheckpoint(of: summary)
        #expect(Fixtures.checkpointSteps(in: dir).last == step)

        let firstServed = try #require(try imds.state()["instance_action_first_served_at"] as? Double)
        let noticeToExit = exit.exitedAt.timeIntervalSince1970 - firstServed
        print("spot notice first served → process exit: \(String(format: "%.3f", noticeToExit)) s "
              + "(in-process detection → exit \(interruption["notice_to_exit_seconds"] ?? "?") s, "
              + "checkpoint \(interruption["checkpoint_seconds"] ?? "?") s, stopped at step \(step))")
        // The AWS contract: the instance goes away 120 s after the notice.
        #expect(noticeToExit > 0 && noticeToExit < 120)

        try Self.finishAndCompare(checkpointDir: dir, summary: summaryPath, resumedStep: step)
    }

    /// SIGTERM alone, without --spot, and with --spot while IMDS is unreachable.
    @Test(arguments: [false, true])
    func sigtermExits75WithACurrentCheckpointAndResumesBitExactly(spotWithoutIMDS: Bool) throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/ckpt", summaryPath = root + "/s.json"
        var args = Self.arguments(checkpointDir: dir, summary: summaryPath)
        if spotWithoutIMDS { args += Self.spotArguments("http://127.0.0.1:1") }
        let child = try ChildProcess(args, environment: .loopbackIMDS())
        #expect(child.wait { !Fixtures.checkpointSteps(in: dir).isEmpty }, "finished before the first checkpoint: \(child.stderr)")
        usleep(UInt32.random(in: 0..<300_000))
        let signalledAt = Date()
        child.signal(SIGTERM)
        let exit = child.waitForExit()
        #expect(exit.status == 75, "\(child.stderr)")
        let summary = try Fixtures.summary(summaryPath)
        #expect(summary["status"] as? String == "interrupted")
        let interruption = try #require(summary["interruption"] as? [String: Any])
        #expect(interruption["kind"] as? String == "signal")
        #expect(interruption["reason"] as? String == "SIGTERM")
        let step = try Self.verifyCheckpoint(of: summary)
        print("SIGTERM → exit\(spotWithoutIMDS ? " (--spot, IMDS unreachable)" : ""): "
              + "\(String(format: "%.3f", exit.exitedAt.timeIntervalSince(signalledAt))) s, stopped at step \(step)")
        if spotWithoutIMDS {
            #expect(child.stderr.contains("warning: IMDS check"), "\(child.stderr)")
        } else {
            try Self.finishAndCompare(checkpointDir: dir, summary: summaryPath, resumedStep: step)
        }
    }

    @Test func noticePastItsDeadlineStillSavesTheCurrentStepAndExits75() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let imds = try FakeIMDSServer()
        let dir = root + "/ckpt", summaryPath = root + "/s.json"
        // Epoch-end checkpoints only (steps 10, 20), so the notice lands between two.
        let child = try ChildProcess(Self.arguments(checkpointDir: dir, summary: summaryPath, saveEverySteps: nil)
                                     + Self.spotArguments(imds.endpoint), environment: .loopbackIMDS(imds.endpoint))
        #expect(child.wait { Fixtures.checkpointSteps(in: dir) == [10] }, "\(child.stderr)")
        try imds.control("interrupt", #"{"action": "terminate", "time": "2026-01-01T00:00:00Z"}"#)
        let status = child.waitForExit().status
        #expect(status == 75, "\(child.stderr)")
        let summary = try Fixtures.summary(summaryPath)
        let step = try #require(summary["global_step"] as? Int)
        #expect(step > 10 && step < 20)
        #expect(child.stderr.contains("warning: interruption: the deadline passed"), "\(child.stderr)")
        #expect(child.stderr.contains("saving anyway"), "\(child.stderr)")
        #expect(!child.stderr.contains("WITHOUT a checkpoint of this step"), "\(child.stderr)")
        #expect(summary["status"] as? String == "interrupted")
        let interruption = try #require(summary["interruption"] as? [String: Any])
        #expect(interruption["outcome"] as? String == "saved")
        #expect(interruption["checkpoint_current"] as? Bool == true)
        #expect(interruption["deadline"] as? String == "2026-01-01T00:00:00.000Z")
        // Saved long after the deadline, and the summary says by how much.
        let margin = try #require(interruption["seconds_before_deadline"] as? Double)
        #expect(margin < -86_400)
        // The emergency checkpoint of this step next to the previous one, which is intact.
        #expect(try Self.verifyCheckpoint(of: summary) == step)
        #expect(Fixtures.checkpointSteps(in: dir) == [10, step])
        #expect(try CheckpointReader().verify(atPath: dir + "/" + CheckpointDirectory.fileName(forGlobalStep: 10)).globalStep == 10)

        try Self.finishAndCompare(checkpointDir: dir, summary: summaryPath, resumedStep: step)
    }

    @Test func imdsFailingMidRunLogsWarningsAndTrainingGoesOn() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let imds = try FakeIMDSServer()
        let dir = root + "/ckpt", summaryPath = root + "/s.json"
        let child = try ChildProcess(Self.arguments(checkpointDir: dir, summary: summaryPath) + Self.spotArguments(imds.endpoint),
                                     environment: .loopbackIMDS(imds.endpoint))
        #expect(child.wait { !Fixtures.checkpointSteps(in: dir).isEmpty }, "\(child.stderr)")
        try imds.control("fail", #"{"count": 6, "status": 500}"#)
        // Training continues through the failures; then a notice still gets through.
        #expect(child.wait { ((try? imds.state()["pending_failures"] as? [Any]) ?? [1]).isEmpty }, "\(child.stderr)")
        try imds.control("interrupt", #"{"action": "terminate", "in_seconds": 120}"#)
        let status = child.waitForExit().status
        #expect(status == 75, "\(child.stderr)")
        #expect(child.stderr.contains("warning: IMDS check"), "\(child.stderr)")
        #expect(child.stderr.contains("training continues"), "\(child.stderr)")
        let summary = try Fixtures.summary(summaryPath)
        #expect((summary["interruption"] as? [String: Any])?["kind"] as? String == "terminate")
        _ = try Self.verifyCheckpoint(of: summary)
    }

    @Test func failingEmergencySaveKeepsThePreviousCheckpointAndExits1() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/ckpt", moved = root + "/ckpt.moved", summaryPath = root + "/s.json"
        let child = try ChildProcess(Self.arguments(checkpointDir: dir, summary: summaryPath, saveEverySteps: nil),
                                     environment: .loopbackIMDS())
        #expect(child.wait { Fixtures.checkpointSteps(in: dir) == [10] }, "\(child.stderr)")
        usleep(50_000)  // let the step-10 save finish its directory fsync
        // The checkpoint directory becomes a regular file: every save from now on fails.
        try FileManager.default.moveItem(atPath: dir, toPath: moved)
        #expect(FileManager.default.createFile(atPath: dir, contents: Data("not a directory\n".utf8)))
        child.signal(SIGTERM)
        let status = child.waitForExit().status
        #expect(status == 1, "\(child.stderr)")
        let summary = try Fixtures.summary(summaryPath)
        let step = try #require(summary["global_step"] as? Int)
        #expect(child.stderr.contains("the emergency checkpoint at step \(step) failed"), "\(child.stderr)")
        #expect(child.stderr.contains("WITHOUT a checkpoint of this step (save_failed)"), "\(child.stderr)")
        #expect((summary["interruption"] as? [String: Any])?["outcome"] as? String == "save_failed")
        #expect(summary["status"] as? String == "save_failed")
        // The previous checkpoint is intact.
        #expect(Fixtures.checkpointSteps(in: moved) == [10])
        #expect(try CheckpointReader().verify(atPath: moved + "/" + CheckpointDirectory.fileName(forGlobalStep: 10)).globalStep == 10)
    }

    @Test func spotNeedsACheckpointDirectoryAndImdsOptionsNeedSpot() throws {
        for args in [["train", "--data", "/nonexistent", "--spot"],
                     ["train", "--data", "/nonexistent", "--checkpoint-dir", "/tmp/x", "--poll-interval", "1"],
                     ["train", "--data", "/nonexistent", "--checkpoint-dir", "/tmp/x", "--spot", "--poll-interval", "0"],
                     ["train", "--data", "/nonexistent", "--checkpoint-dir", "/tmp/x", "--spot", "--imds-endpoint", "https://127.0.0.1"]] {
            let result = try ChildProcess.run(args, environment: .loopbackIMDS())
            #expect(result.status == 64, "\(args): \(result.stderr)")
        }
    }
}
