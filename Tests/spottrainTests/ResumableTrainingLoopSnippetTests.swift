import Foundation
import Testing

/// `Snippets/ResumableTrainingLoop.swift`, built by `swift build`: a custom loop with a
/// `CheckpointManager`, killed with SIGKILL at random moments and restarted until done, ends
/// with the weights of a run that was never interrupted.
@Suite struct ResumableTrainingLoopSnippetTests {
    static var snippet: URL {
        ChildProcess.spottrain.deletingLastPathComponent().appendingPathComponent("ResumableTrainingLoop")
    }

    /// The hash on the output's last line (`weights_sha256 <64 hex digits>`), or nil.
    static func weightsHash(_ stdout: String) -> String? {
        guard let last = stdout.split(separator: "\n").last else { return nil }
        let parts = last.split(separator: " ")
        guard parts.count == 2, parts[0] == "weights_sha256", parts[1].count == 64,
              parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return String(parts[1])
    }

    static func hasTemporaryFile(_ dir: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.contains(".tmp-") }
    }

    @Test func customTrainingLoopDocShowsTheCompiledSnippetsByteForByte() throws {
        let doc = try String(contentsOfFile: Fixtures.packageRoot.appendingPathComponent("Docs/CustomTrainingLoop.md").path,
                             encoding: .utf8)
        for name in ["ResumableTrainingLoop", "MirroredTrainingLoop"] {
            let path = Fixtures.packageRoot.appendingPathComponent("Snippets/\(name).swift").path
            let shown = try ReadmeSnippetTests.shownPart(of: String(contentsOfFile: path, encoding: .utf8))
            #expect(doc.contains("```swift\n" + shown + "```\n"), "Docs/CustomTrainingLoop.md does not show Snippets/\(name).swift")
        }
    }

    @Test func weightsHashIsReadOnlyFromAWellFormedLastLine() {
        let hash = String(repeating: "0a", count: 32)
        #expect(Self.weightsHash("epoch 1\nweights_sha256 \(hash)\n") == hash)
        #expect(Self.weightsHash("weights_sha256 \(hash)\nepoch 1\n") == nil)
        #expect(Self.weightsHash("weights_sha256 \(hash.dropLast())\n") == nil)
    }

    @Test func snippetKilledAtRandomMomentsEndsWithTheUninterruptedWeights() throws {
        let snippet = Self.snippet
        try #require(FileManager.default.isExecutableFile(atPath: snippet.path),
                     "\(snippet.path) is missing: `swift build` builds the snippets in Snippets/")
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        // 4096 examples at batch 32: 128 steps per epoch; 448 steps cross three epoch ends and
        // stop inside the fourth epoch. Long enough that kills land in a release build too.
        try ReadmeSnippetTests.writeTinyMNIST(to: data, count: 4096, testCount: 64)
        let maxSteps = "448"
        let watchdog = Duration.seconds(300)

        let started = Date()
        let reference = try ChildProcess(["\(data)", root + "/reference", maxSteps], executable: snippet)
            .waitForExit(killingAfter: watchdog)
        let referenceSeconds = Date().timeIntervalSince(started)
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try #require(Self.weightsHash(reference.stdout), "no weights_sha256 last line in: \(reference.stdout)")
        #expect(Fixtures.checkpointSteps(in: root + "/reference").max() == 448)

        // Kill points: at random times within the reference run's duration, during a save,
        // and once a checkpoint past an epoch end exists.
        let dir = root + "/interrupted"
        let args = ["\(data)", dir, maxSteps]
        var generator = SystemRandomNumberGenerator()
        var log: [String] = []
        var kills = 0
        for round in 0..<6 {
            let before = Set(Fixtures.checkpointSteps(in: dir))
            let delay = Double.random(in: 0.02...max(0.05, referenceSeconds), using: &generator)
            let kind = round % 3
            let child = try ChildProcess(args, executable: snippet)
            let start = Date()
            let landed = child.wait(timeout: watchdog) {
                switch kind {
                case 0: Date().timeIntervalSince(start) >= delay
                case 1: Self.hasTemporaryFile(dir) || Date().timeIntervalSince(start) >= delay
                default: Set(Fixtures.checkpointSteps(in: dir)).subtracting(before).contains { $0 % 128 == 0 && $0 > 0 }
                }
            }
            if landed { child.signal(SIGKILL) }
            let result = child.waitForExit(killingAfter: watchdog)
            log.append("round \(round) kind \(kind) delay \(String(format: "%.3f", delay)): "
                       + (result.killed ? "killed" : "exited \(result.status)") + " with checkpoints \(Fixtures.checkpointSteps(in: dir))")
            if result.killed { kills += 1 } else {
                #expect(result.status == 0, "\(log): \(result.stderr)")
                #expect(Self.weightsHash(result.stdout) == expected, "\(log)")
            }
        }
        #expect(kills >= 2, "only \(kills) kills landed: \(log)")

        // Restart until a run finishes; each resumes from the newest valid checkpoint.
        var final: ChildProcess.Result?
        for _ in 0..<5 {
            let result = try ChildProcess(args, executable: snippet).waitForExit(killingAfter: watchdog)
            if result.status == 0 { final = result; break }
        }
        let done = try #require(final, "no run finished: \(log)")
        #expect(Self.weightsHash(done.stdout) == expected, "\(log)\n\(done.stdout)")
        #expect(done.stdout.contains("resuming from "), "\(done.stdout)")
        #expect(!Self.hasTemporaryFile(dir))
        #expect(Set(Fixtures.checkpointSteps(in: dir)).count <= 3)
        #expect(Fixtures.checkpointSteps(in: dir).max() == 448)
    }
}
