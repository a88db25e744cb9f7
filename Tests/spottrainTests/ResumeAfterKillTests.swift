import Foundation
import Testing

/// Bit-exact resume of `spottrain train` after SIGKILL at arbitrary moments.
@Suite(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"))
struct ResumeAfterKillTests {
    /// 640 examples at batch 64: 10 steps per epoch; 25 steps cross two epoch boundaries.
    static func arguments(checkpointDir: String, summary: String) -> [String] {
        ["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "640", "--test-limit", "200",
         "--batch-size", "64", "--epochs", "3", "--max-steps", "25", "--seed", "5", "--threads", "2",
         "--checkpoint-dir", checkpointDir, "--save-every-steps", "3", "--keep", "3",
         "--summary", summary, "--quiet"]
    }

    static func hasTemporaryFile(_ dir: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.contains(".tmp-") }
    }

    @Test func killedRunsResumeToTheSameWeightsAsAnUninterruptedRun() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }

        // The uninterrupted reference.
        let reference = try ChildProcess.run(Self.arguments(checkpointDir: root + "/reference", summary: root + "/reference.json"))
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try Fixtures.summary(root + "/reference.json")
        #expect(expected["status"] as? String == "max_steps")
        #expect(expected["global_step"] as? Int == 25)
        let expectedSHA = try #require(expected["weights_sha256"] as? String)

        // The same command, killed at several kinds of moments, restarted each time.
        let dir = root + "/interrupted", summary = root + "/interrupted.json"
        let args = Self.arguments(checkpointDir: dir, summary: summary)
        let start = Date()
        typealias KillPoint = (name: String, condition: (_ before: Set<Int>, _ started: Date) -> Bool)
        let killPoints: [KillPoint] = [
            ("during the first save", { _, _ in Self.hasTemporaryFile(dir) }),
            ("after crossing the first epoch boundary", { before, _ in
                Set(Fixtures.checkpointSteps(in: dir)).subtracting(before).contains { $0 > 10 } }),
            ("during a later save", { _, _ in Self.hasTemporaryFile(dir) }),
            ("while loading data", { _, started in Date().timeIntervalSince(started) > 0.15 }),
            ("mid-epoch in the last epoch", { before, _ in
                Set(Fixtures.checkpointSteps(in: dir)).subtracting(before).contains { $0 > 20 } }),
        ]
        var kills = 0
        for point in killPoints {
            let before = Set(Fixtures.checkpointSteps(in: dir))
            let started = Date()
            let result = try ChildProcess.run(args, killWhen: { point.condition(before, started) })
            if result.killed { kills += 1 } else {
                // The run finished before the kill point; nothing more to interrupt.
                #expect(result.status == 0, "\(point.name): \(result.stderr)")
                break
            }
        }
        #expect(kills >= 4, "only \(kills) kills landed")

        // Restart until a run finishes (each resumes from the newest valid checkpoint).
        var final: ChildProcess.Result?
        for _ in 0..<3 {
            let r = try ChildProcess.run(args)
            if r.status == 0 { final = r; break }
        }
        let done = try #require(final)
        #expect(done.stderr.contains("resuming from"), "\(done.stderr)")
        let result = try Fixtures.summary(summary)
        #expect(result["global_step"] as? Int == 25)
        #expect(result["weights_sha256"] as? String == expectedSHA)
        #expect(result["resumed_from"] as? String != nil)
        #expect(Date().timeIntervalSince(start) >= 0)
        // No temporary file survives the final run; at most --keep checkpoints remain.
        #expect(!Self.hasTemporaryFile(dir))
        #expect(Set(Fixtures.checkpointSteps(in: dir)).count <= 3)
        #expect(Set(Fixtures.checkpointSteps(in: dir)).max() == 25)
    }

    @Test func corruptNewestCheckpointFallsBackWithAWarning() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/ckpt"
        var args = Self.arguments(checkpointDir: dir, summary: root + "/a.json")
        args[args.firstIndex(of: "25")!] = "12"
        #expect(try ChildProcess.run(args).status == 0)
        let first = try Fixtures.summary(root + "/a.json")
        let steps = Fixtures.checkpointSteps(in: dir)
        #expect(steps == [9, 10, 12])
        // Every 3 steps, the end of epoch 1 (step 10) and the final step: 3, 6, 9, 10, 12.
        #expect(first["checkpoints_saved"] as? Int == 5)
        #expect((first["checkpoint_save_seconds"] as? Double ?? 0) > 0)
        // Flip one byte of the newest file; the next run must fall back to step 10 and
        // reach the same weights at step 12.
        let newest = dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir)).filter { $0.hasSuffix(".spt") }.sorted().last!
        var bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        bytes[bytes.count / 3] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: newest))
        let verify = try ChildProcess.run(["checkpoint", "verify", dir])
        // Not every checkpoint verifies: exit 1, naming the invalid one and the newest valid.
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("INVALID"))
        #expect(verify.stdout.contains("newest valid: \(dir)/ckpt-000000000010.spt"))
        let rerun = try ChildProcess.run(args)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("warning: skipping checkpoint \(newest)"))
        #expect(rerun.stderr.contains("resuming from \(dir)/ckpt-000000000010.spt"))
        let second = try Fixtures.summary(root + "/a.json")
        #expect(second["weights_sha256"] as? String == first["weights_sha256"] as? String)
        #expect(second["resumed_step"] as? Int == 10)
    }
}
