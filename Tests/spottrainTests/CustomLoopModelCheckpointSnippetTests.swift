import Foundation
import Testing

/// `Snippets/CustomLoopModelCheckpoint.swift`, built by `swift build`: one `ModelCheckpoint`
/// saves a custom loop (through its manager) and then `fit` (as a callback). Stopped in each
/// phase and run again, it continues from its checkpoints and ends with the weights of a run
/// that never stopped.
@Suite struct CustomLoopModelCheckpointSnippetTests {
    static var snippet: URL {
        ChildProcess.spottrain.deletingLastPathComponent().appendingPathComponent("CustomLoopModelCheckpoint")
    }

    @Test func customTrainingLoopDocShowsTheSnippetByteForByte() throws {
        let doc = try String(contentsOfFile: Fixtures.packageRoot.appendingPathComponent("Docs/CustomTrainingLoop.md").path,
                             encoding: .utf8)
        let path = Fixtures.packageRoot.appendingPathComponent("Snippets/CustomLoopModelCheckpoint.swift").path
        let shown = try ReadmeSnippetTests.shownPart(of: String(contentsOfFile: path, encoding: .utf8))
        #expect(doc.contains("```swift\n" + shown + "```\n"),
                "Docs/CustomTrainingLoop.md does not show Snippets/CustomLoopModelCheckpoint.swift")
    }

    @Test func stopsInTheCustomLoopAndInFitResumeToTheUninterruptedWeights() throws {
        let snippet = Self.snippet
        try #require(FileManager.default.isExecutableFile(atPath: snippet.path),
                     "\(snippet.path) is missing: `swift build` builds the snippets in Snippets/")
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        // 4096 examples at batch 64: 64 steps per epoch, 192 in the three epochs; the custom
        // loop runs steps 1–64 and `fit` steps 65–192.
        try ReadmeSnippetTests.writeTinyMNIST(to: data, count: 4096, testCount: 64)
        let watchdog = Duration.seconds(300)
        func run(_ dir: String, _ extra: [String] = []) throws -> ChildProcess.Result {
            try ChildProcess([data, dir] + extra, executable: snippet).waitForExit(killingAfter: watchdog)
        }

        let reference = try run(root + "/reference")
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(reference.stdout.contains("status completed, step 192"), "\(reference.stdout)")
        let expected = try #require(ResumableTrainingLoopSnippetTests.weightsHash(reference.stdout),
                                    "no weights_sha256 last line in: \(reference.stdout)")
        // Every 16 steps and at epoch ends (64, 128), keep 3: the last three.
        #expect(Fixtures.checkpointSteps(in: root + "/reference") == [160, 176, 192])

        // Stopped at step 40, inside the custom loop: the saves at 16 and 32, and `fit`'s
        // train-end save of the stopped state at 40.
        let dir = root + "/stopped"
        let first = try run(dir, ["40"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("status max_steps, step 40"), "\(first.stdout)")
        #expect(Fixtures.checkpointSteps(in: dir) == [16, 32, 40])

        // Resumed in the custom loop at 40, through the epoch end at 64, stopped in `fit` at 100.
        let second = try run(dir, ["100"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("at epoch 1, batch 40"), "\(second.stdout)")
        #expect(second.stdout.contains("status max_steps, step 100"), "\(second.stdout)")
        #expect(Fixtures.checkpointSteps(in: dir) == [80, 96, 100])

        // Resumed past the custom loop: straight into `fit`, to the end.
        let third = try run(dir)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("at epoch 2, batch 36"), "\(third.stdout)")
        #expect(third.stdout.contains("status completed, step 192"), "\(third.stdout)")
        #expect(ResumableTrainingLoopSnippetTests.weightsHash(third.stdout) == expected,
                "stopped and resumed runs end with other weights than an uninterrupted one")
    }
}
