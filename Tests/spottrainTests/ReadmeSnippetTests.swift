import Foundation
import Testing

/// README's library example is `Snippets/QuickStart.swift`, which `swift build` compiles
/// against the library products alone: the two must stay equal, and the program must run.
@Suite struct ReadmeSnippetTests {
    static let snippetPath = Fixtures.packageRoot.appendingPathComponent("Snippets/QuickStart.swift").path
    static let readmePath = Fixtures.packageRoot.appendingPathComponent("README.md").path

    /// The part of a snippet file that DocC and README show: everything after its last
    /// `// snippet.show` line (the file's first line must be `// snippet.hide`).
    static func shownPart(of snippet: String) throws -> String {
        let marker = "// snippet.show\n"
        #expect(snippet.hasPrefix("// snippet.hide\n"), "the snippet's maintenance note must be hidden")
        let range = try #require(snippet.range(of: marker, options: .backwards), "no \(marker) line")
        return String(snippet[range.upperBound...])
    }

    /// The contents of README's Swift code block that starts with `import SpotTrain`
    /// (without its fences), or nil.
    static func readmeExample(in readme: String) -> String? {
        let opening = "```swift\nimport SpotTrain\n"
        guard let start = readme.range(of: opening) else { return nil }
        guard let end = readme.range(of: "\n```\n", range: start.upperBound..<readme.endIndex) else { return nil }
        return "import SpotTrain\n" + readme[start.upperBound..<end.lowerBound] + "\n"
    }

    @Test func readmeLibraryExampleIsTheQuickStartSnippetByteForByte() throws {
        let snippet = try String(contentsOfFile: Self.snippetPath, encoding: .utf8)
        let readme = try String(contentsOfFile: Self.readmePath, encoding: .utf8)
        let shown = try Self.shownPart(of: snippet)
        let block = try #require(Self.readmeExample(in: readme), "README has no ```swift block starting with import SpotTrain")
        #expect(block == shown, "README's example differs from Snippets/QuickStart.swift; copy the snippet into README")
        // Only one such block, so that the checked one is the one readers see.
        #expect(readme.components(separatedBy: "```swift\nimport SpotTrain\n").count == 2)
    }

    @Test func shownPartAndReadmeBlockAreFoundExactly() throws {
        // The extraction itself, on a made-up pair: a drift of one character is caught.
        let snippet = "// snippet.hide\n// note\n// snippet.show\nimport SpotTrain\n\nprint(1)\n"
        let readme = "text\n```swift\nimport SpotTrain\n\nprint(1)\n```\nmore\n"
        #expect(try Self.shownPart(of: snippet) == Self.readmeExample(in: readme))
        #expect(try Self.shownPart(of: snippet) != Self.readmeExample(in: readme.replacingOccurrences(of: "(1)", with: "(2)")))
    }

    /// Writes a tiny MNIST-shaped IDX data set (raw, not gzipped): `count` random images and
    /// labels for training, `testCount` for testing.
    static func writeTinyMNIST(to dir: String, count: Int, testCount: Int) throws {
        var generator = SystemRandomNumberGenerator()
        func bigEndian(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).bigEndian, Array.init) }
        for (prefix, n) in [("train", count), ("t10k", testCount)] {
            let images = bigEndian(0x0803) + bigEndian(n) + bigEndian(28) + bigEndian(28)
                + (0..<(n * 784)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let labels = bigEndian(0x0801) + bigEndian(n) + (0..<n).map { UInt8($0 % 10) }
            try Data(images).write(to: URL(fileURLWithPath: "\(dir)/\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: URL(fileURLWithPath: "\(dir)/\(prefix)-labels-idx1-ubyte"))
        }
    }

    /// The built snippet runs as README says, and a second run continues from its checkpoint.
    @Test func quickStartSnippetTrainsAndResumesFromItsCheckpoint() throws {
        let snippet = ChildProcess.spottrain.deletingLastPathComponent().appendingPathComponent("QuickStart")
        try #require(FileManager.default.isExecutableFile(atPath: snippet.path),
                     "\(snippet.path) is missing: `swift build` builds the snippets in Snippets/")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/data", withIntermediateDirectories: true)
        try Self.writeTinyMNIST(to: "\(dir)/data", count: 256, testCount: 64)

        // 256 examples at batch 128: 2 steps per epoch.
        let first = try ChildProcess.run(["\(dir)/data", "\(dir)/checkpoints", "1"], executable: snippet)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("test accuracy "), "\(first.stdout)")
        #expect(Fixtures.checkpointSteps(in: "\(dir)/checkpoints") == [2])

        let second = try ChildProcess.run(["\(dir)/data", "\(dir)/checkpoints", "2"], executable: snippet)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.hasPrefix("test accuracy "), "\(second.stdout)")
        #expect(Fixtures.checkpointSteps(in: "\(dir)/checkpoints") == [2, 4])
    }
}
