import Foundation
import Testing

/// A separate package that depends on `.product(name: "SpotTrain")` alone, as a user's would,
/// compiles README's library example, `Snippets/ResumableTrainingLoop.swift` and
/// `Snippets/CustomLoopModelCheckpoint.swift` (a `ModelCheckpoint` driving a custom loop), each
/// as an executable target of its own. SwiftPM snippets are compiled inside this package; this
/// checks the same sources from the outside: only public API, and no product but `SpotTrain`
/// (so no MPI, no AWS client, no argument parser).
@Suite struct LibraryConsumerPackageTests {
    /// Executable target name → its `main.swift`.
    static func sources() throws -> [(target: String, source: String)] {
        let root = Fixtures.packageRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try #require(ReadmeSnippetTests.readmeExample(in: readme),
                                   "README has no ```swift block starting with import SpotTrain")
        func snippet(_ name: String) throws -> String {
            try String(contentsOf: root.appendingPathComponent("Snippets/\(name).swift"), encoding: .utf8)
        }
        return [
            ("ReadmeExample", example),
            ("ResumableTrainingLoopExample", try snippet("ResumableTrainingLoop")),
            ("CustomLoopModelCheckpointExample", try snippet("CustomLoopModelCheckpoint")),
        ]
    }

    /// The consumer's manifest: `SpotTrain` by path (`root`), each target depending on the
    /// `SpotTrain` product only.
    static func manifest(root: URL, targets: [String]) -> String {
        // A path dependency's identity is its directory's name (less a `.git` suffix),
        // whatever the clone is called.
        var identity = root.standardizedFileURL.lastPathComponent
        if identity.lowercased().hasSuffix(".git") { identity.removeLast(4) }
        let targetLines = targets.map {
            "        .executableTarget(name: \"\($0)\", dependencies: [.product(name: \"SpotTrain\", package: \(String(reflecting: identity)))]),"
        }
        return """
            // swift-tools-version: 6.1
            import PackageDescription

            let package = Package(
                name: "LibraryConsumer",
                dependencies: [.package(path: \(String(reflecting: root.standardizedFileURL.path)))],
                targets: [
            \(targetLines.joined(separator: "\n"))
                ]
            )

            """
    }

    @Test func aLibraryOnlyPackageCompilesTheReadmeExampleAndTheSnippets() throws {
        let package = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: package) }
        let sources = try Self.sources()
        for (target, source) in sources {
            let dir = "\(package)/Sources/\(target)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try source.write(toFile: "\(dir)/main.swift", atomically: true, encoding: .utf8)
        }
        try Self.manifest(root: Fixtures.packageRoot, targets: sources.map(\.target))
            .write(toFile: "\(package)/Package.swift", atomically: true, encoding: .utf8)
        // The versions this package resolved, so that the consumer builds the same ones.
        let resolved = Fixtures.packageRoot.appendingPathComponent("Package.resolved").path
        if FileManager.default.fileExists(atPath: resolved) {
            try FileManager.default.copyItem(atPath: resolved, toPath: "\(package)/Package.resolved")
        }

        // Its own build folder under this package's `.build`, kept between runs (a first build
        // compiles SpotTrain, swift-crypto and swift-log in debug: a few minutes).
        let scratch = Fixtures.packageRoot.appendingPathComponent(".build/library-consumer").path
        let build = try ChildProcess(["swift", "build", "--package-path", package, "--scratch-path", scratch],
                                     executable: URL(fileURLWithPath: "/usr/bin/env"))
            .waitForExit(killingAfter: .seconds(40 * 60))
        #expect(build.status == 0, "the library-only package does not build:\n\(build.stdout.suffix(6000))\n\(build.stderr.suffix(3000))")
        guard build.status == 0 else { return }

        // Linked and runnable: each example's usage path needs no data.
        let bin = URL(fileURLWithPath: "\(scratch)/debug")
        for target in ["ResumableTrainingLoopExample", "CustomLoopModelCheckpointExample"] {
            let usage = try ChildProcess(["only-one-argument"], executable: bin.appendingPathComponent(target))
                .waitForExit(killingAfter: .seconds(120))
            #expect(usage.status == 64, "\(target): \(usage.stdout) \(usage.stderr)")
            #expect(usage.stdout.hasPrefix("usage: "), "\(target): \(usage.stdout)")
        }
        // README's example runs on a directory with no data and says what is missing.
        let readme = try ChildProcess([package + "/no-data", package + "/checkpoints", "1"],
                                      executable: bin.appendingPathComponent("ReadmeExample"))
            .waitForExit(killingAfter: .seconds(120))
        #expect(readme.status != 0)
        #expect((readme.stdout + readme.stderr).contains("no-data"), "\(readme.stdout) \(readme.stderr)")
    }

    @Test func theManifestDependsOnTheSpotTrainProductAlone() {
        let manifest = Self.manifest(root: URL(fileURLWithPath: "/tmp/clones/spot-train"), targets: ["A", "B"])
        #expect(manifest.contains(#".package(path: "/tmp/clones/spot-train")"#))
        #expect(manifest.components(separatedBy: #".product(name: "SpotTrain", package: "spot-train")"#).count == 3)
        #expect(!manifest.contains("EC2Spot") && !manifest.contains("SpotTrainMPI") && !manifest.contains("SpotTrainS3"))
        // A clone named `….git`, or with a quote in its path, still gives a valid manifest.
        let odd = Self.manifest(root: URL(fileURLWithPath: #"/tmp/a "b"/SpotTrain.git"#), targets: ["A"])
        #expect(odd.contains(#".package(path: "/tmp/a \"b\"/SpotTrain.git")"#), "\(odd)")
        #expect(odd.contains(#"package: "SpotTrain")"#), "\(odd)")
    }
}
