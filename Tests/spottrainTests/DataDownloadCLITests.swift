import Foundation
import Testing

/// `spottrain data download mnist` against a loopback mirror (never the network): every file
/// verified by SHA-256, corrupt, truncated, oversized and missing mirrors skipped for the next
/// one, nothing partial or unverified left under a final name, and the exit statuses 0, 1, 78
/// and 64.
@Suite(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"))
struct DataDownloadCLITests {
    static let names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

    /// The real files, by name.
    static func realFiles() throws -> [String: Data] {
        let dir = try #require(Fixtures.mnistDirectory)
        var files: [String: Data] = [:]
        for name in names { files[name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)) }
        return files
    }

    /// `files` with one byte in the middle of each flipped (same size, wrong SHA-256).
    static func corrupted(_ files: [String: Data]) -> [String: Data] {
        files.mapValues { data in
            var copy = data
            copy[copy.count / 2] ^= 0x01
            return copy
        }
    }

    /// Runs `spottrain data download mnist` with `arguments`, no proxy for loopback.
    static func download(_ arguments: [String]) async throws -> ChildProcess.Result {
        let child = try ChildProcess(["data", "download", "mnist"] + arguments, environment: .hermetic)
        return await child.exited(killingAfter: .seconds(300))
    }

    /// The names in `dir` (hidden temporary files included).
    static func entries(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    @Test func downloadFetchesVerifiesAndWritesEveryFile() async throws {
        let server = try FileMirrorServer()
        defer { server.stop() }
        let real = try Self.realFiles()
        try server.serve("good", real)
        let target = try Fixtures.temporaryDirectory() + "/nested/mnist"
        let result = try await Self.download(["--to", target, "--mirror", server.mirror("good")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.entries(target) == Self.names.sorted())
        for name in Self.names {
            #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/" + name)) == real[name])
            #expect(result.stdout.contains("\(name): downloaded from \(server.mirror("good"))\(name)"))
        }
        #expect(server.requests.count == 4)
    }

    @Test func downloadSkipsCorruptTruncatedOversizedAndMissingMirrors() async throws {
        let server = try FileMirrorServer()
        defer { server.stop() }
        let real = try Self.realFiles()
        try server.serve("corrupt", Self.corrupted(real))
        try server.serve("truncated", real)
        try server.serve("padded", real)
        try server.serve("good", real)
        let target = try Fixtures.temporaryDirectory()
        let mirrors = ["missing", "corrupt", "truncated", "padded", "good"]
        let result = try await Self.download(["--to", target] + mirrors.flatMap { ["--mirror", server.mirror($0)] })
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.entries(target) == Self.names.sorted())
        for name in Self.names {
            #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/" + name)) == real[name])
        }
        // Every file was asked of every mirror, in order, until the good one.
        #expect(server.requests == Self.names.flatMap { name in mirrors.map { "/\($0)/\(name)" } })
        #expect(result.stderr.contains("\(server.mirror("missing"))train-images-idx3-ubyte.gz: HTTP 404; trying the next mirror"))
        #expect(result.stderr.contains("\(server.mirror("corrupt"))train-images-idx3-ubyte.gz: served 9719438 bytes with sha256"))
        #expect(result.stderr.contains("\(server.mirror("padded"))train-images-idx3-ubyte.gz: larger than any known archive"))
    }

    @Test func downloadExits78WhenEveryMirrorServesWrongBytes() async throws {
        let server = try FileMirrorServer()
        defer { server.stop() }
        let real = try Self.realFiles()
        try server.serve("corrupt", Self.corrupted(real))
        try server.serve("padded", real)
        let target = try Fixtures.temporaryDirectory()
        let result = try await Self.download(["--to", target, "--mirror", server.mirror("corrupt"),
                                              "--mirror", server.mirror("padded")])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.contains("every mirror served wrong bytes for train-images-idx3-ubyte.gz"))
        #expect(Self.entries(target).isEmpty, "left behind: \(Self.entries(target))")
    }

    @Test func downloadExits1WhenNoMirrorDelivers() async throws {
        let server = try FileMirrorServer()
        defer { server.stop() }
        let real = try Self.realFiles()
        try server.serve("corrupt", Self.corrupted(real))
        try server.serve("truncated", real)
        let target = try Fixtures.temporaryDirectory()
        // Wrong bytes from one mirror but a failure a retry may not repeat from the others: 1.
        let result = try await Self.download(["--to", target,
                                              "--mirror", "http://127.0.0.1:\(Fixtures.closedLoopbackPort())/mnist",
                                              "--mirror", server.mirror("truncated"),
                                              "--mirror", server.mirror("corrupt")])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no mirror delivered train-images-idx3-ubyte.gz"))
        #expect(Self.entries(target).isEmpty, "left behind: \(Self.entries(target))")
    }

    @Test func downloadKeepsValidFilesAndReplacesInvalidOnes() async throws {
        let server = try FileMirrorServer()
        defer { server.stop() }
        let real = try Self.realFiles()
        try server.serve("good", real)
        let target = try Fixtures.temporaryDirectory()
        for name in Self.names {
            let bytes = name == "t10k-labels-idx1-ubyte.gz" ? Self.corrupted(real)[name]! : real[name]!
            try bytes.write(to: URL(fileURLWithPath: target + "/" + name))
        }
        let result = try await Self.download(["--to", target, "--mirror", server.mirror("good")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(server.requests == ["/good/t10k-labels-idx1-ubyte.gz"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/t10k-labels-idx1-ubyte.gz")) == real["t10k-labels-idx1-ubyte.gz"])
        #expect(result.stdout.contains("train-images-idx3-ubyte.gz: present"))
        #expect(result.stderr.contains("is not a known mnist archive"))
        #expect(Self.entries(target) == Self.names.sorted())
    }

    @Test func downloadAcceptsTheShippedCopyWithoutTheNetwork() async throws {
        let target = try Fixtures.temporaryDirectory()
        for (name, bytes) in try Self.realFiles() { try bytes.write(to: URL(fileURLWithPath: target + "/" + name)) }
        let result = try await Self.download(["--to", target, "--mirror", "http://127.0.0.1:\(Fixtures.closedLoopbackPort())/"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("mnist: 4 files verified in \(target)"))
    }

    @Test func downloadRejectsBadArgumentsWithUsage() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let file = dir + "/a-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let unknown = try await ChildProcess(["data", "download", "cifar10", "--to", dir], environment: .hermetic).exited(killingAfter: .seconds(60))
        #expect(unknown.status == 64, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("unknown data set 'cifar10'"))
        let ftp = try await Self.download(["--to", dir, "--mirror", "ftp://127.0.0.1/mnist/"])
        #expect(ftp.status == 64, "\(ftp.stderr)")
        let notDirectory = try await Self.download(["--to", file, "--mirror", "http://127.0.0.1:1/"])
        #expect(notDirectory.status == 64, "\(notDirectory.stderr)")
        try FileManager.default.createDirectory(atPath: dir + "/train-images-idx3-ubyte.gz", withIntermediateDirectories: false)
        let inTheWay = try await Self.download(["--to", dir, "--mirror", "http://127.0.0.1:1/"])
        #expect(inTheWay.status == 64, "\(inTheWay.stderr)")
        #expect(inTheWay.stderr.contains("is a directory, not a regular file"))
    }
}
