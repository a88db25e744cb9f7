import Foundation
import SpotTrain
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every path the CLI takes is checked before use: a path of the wrong kind is a usage error
/// (exit 64) naming the flag and the path, never a hang and never a failure after the work.
@Suite struct PathArgumentTests {
    /// Runs the CLI with a watchdog: a hang is killed after 180 s (generous: a loaded machine runs a debug build slowly) and fails the test.
    static func run(_ arguments: [String], environment: ChildProcess.Environment = .hermetic) throws -> ChildProcess.Result {
        let child = try ChildProcess(arguments, environment: environment)
        let result = child.waitForExit(killingAfter: .seconds(180))
        #expect(!result.killed, "hung (killed by the watchdog): \(arguments)")
        return result
    }

    /// A scratch directory with one bad path of each kind.
    struct Paths {
        let root: String
        var fifo: String { root + "/fifo" }
        var file: String { root + "/file" }
        var directory: String { root + "/directory" }
        var dangling: String { root + "/dangling" }
        var missingParent: String { root + "/no-such-dir/out.json" }
        var emptyData: String { root + "/data" }

        init() throws {
            root = try Fixtures.temporaryDirectory()
            #expect(mkfifo(root + "/fifo", 0o600) == 0)
            #expect(FileManager.default.createFile(atPath: root + "/file", contents: Data("x".utf8)))
            try FileManager.default.createDirectory(atPath: root + "/directory", withIntermediateDirectories: false)
            try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: false)
            #expect(symlink(root + "/nowhere", root + "/dangling") == 0)
        }

        func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() }
    }

    @Test func everyPathArgumentOfTheWrongKindExits64NamingIt() throws {
        let p = try Paths()
        defer { try? FileManager.default.removeItem(atPath: p.root) }
        let before = p.entries()
        let train = ["train", "--data", p.emptyData, "--quiet"]
        // (arguments with the bad path as the last element, for each kind of bad path)
        var cases: [[String]] = []
        for bad in [p.fifo, p.file, p.dangling] {  // where a directory is expected
            cases.append(["train", "--quiet", "--data", bad])
            cases.append(train + ["--checkpoint-dir", bad])
            cases.append(["checkpoint", "verify", bad])
            cases.append(["simulate", "--interrupt-at", "1", "--data", bad])
        }
        for bad in [p.fifo, p.directory, p.dangling] {  // where a file is expected
            cases.append(train + ["--summary", bad])
            cases.append(train + ["--metrics", bad])
            cases.append(["checkpoint", "inspect", bad])
            cases.append(["ec2", "launch-spot", "--image-id", "ami-12345678", "--instance-type", "t3.micro",
                          "--region", "us-east-1", "--endpoint", "http://127.0.0.1:\(Fixtures.closedLoopbackPort())",
                          "--user-data", bad])
        }
        cases.append(train + ["--summary", p.missingParent])
        cases.append(train + ["--metrics", p.missingParent])
        for arguments in cases {
            let r = try Self.run(arguments)
            let bad = arguments.last!
            #expect(r.status == 64, "\(arguments): status \(r.status), \(r.stderr)")
            #expect(r.stderr.hasPrefix("spottrain: error: "), "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(bad), "\(arguments): \(r.stderr)")
        }
        // Nothing was created or replaced: the dangling link still dangles, the FIFO is one.
        #expect(p.entries() == before)
        var info = stat()
        #expect(lstat(p.fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        #expect(!FileManager.default.fileExists(atPath: p.root + "/nowhere"))
    }

    static func tinyCheckpoint(step: Int) -> Checkpoint {
        Checkpoint(metadata: CheckpointMetadata(globalStep: step,
                                                modelSignature: ModelSignature([(name: "w", shape: [2])])),
                   tensors: [NamedTensor(name: "w", tensor: Tensor(shape: [2], values: [1, 2]))])
    }

    @Test func checkpointVerifyExitsZeroOnlyWhenEveryCheckpointVerifies() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let empty = try Self.run(["checkpoint", "verify", dir])
        #expect(empty.status == 1)
        #expect(empty.stdout.contains("no valid checkpoint"))
        let directory = CheckpointDirectory(path: dir)
        try directory.save(Self.tinyCheckpoint(step: 1))
        try directory.save(Self.tinyCheckpoint(step: 2))
        let good = try Self.run(["checkpoint", "verify", dir])
        #expect(good.status == 0, "\(good.stdout)")
        #expect(good.stdout.contains("newest valid: \(dir)/ckpt-000000000002.spt (global step 2)"))
        // A corrupt newer file, a valid file under a wrong name, and a FIFO.
        #expect(FileManager.default.createFile(atPath: dir + "/ckpt-000000000003.spt", contents: Data("junk".utf8)))
        try FileManager.default.copyItem(atPath: dir + "/ckpt-000000000001.spt", toPath: dir + "/ckpt-0000000000099.spt")
        #expect(mkfifo(dir + "/ckpt-000000000004.spt", 0o600) == 0)
        let bad = try Self.run(["checkpoint", "verify", dir])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("ckpt-000000000003.spt: INVALID"))
        #expect(bad.stdout.contains("ckpt-000000000004.spt: INVALID") && bad.stdout.contains("a FIFO"))
        #expect(bad.stdout.contains("ckpt-0000000000099.spt: INVALID") && bad.stdout.contains("[nameMismatch]"))
        #expect(bad.stdout.contains("2 of 5 checkpoint(s) valid; newest valid: \(dir)/ckpt-000000000002.spt"))
        let inspect = try Self.run(["checkpoint", "inspect", dir + "/ckpt-0000000000099.spt"])
        #expect(inspect.status == 1)
        #expect(inspect.stdout.contains("name: INVALID"))
        #expect(try Self.run(["checkpoint", "inspect", dir + "/ckpt-000000000002.spt"]).status == 0)
    }

    @Test func secondWriterExits1NamingTheHolderAndTouchesNothing() throws {
        let p = try Paths()
        defer { try? FileManager.default.removeItem(atPath: p.root) }
        let dir = p.root + "/ck"
        let directory = CheckpointDirectory(path: dir)
        try directory.save(Self.tinyCheckpoint(step: 5))
        #expect(FileManager.default.createFile(atPath: dir + "/.ckpt-000000000006.spt.tmp-\(getpid())-abcd", contents: Data()))
        let lock = try directory.lock()
        let before = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        for extra in [[], ["--fresh"]] {
            let r = try Self.run(["train", "--data", p.emptyData, "--quiet", "--checkpoint-dir", dir] + extra)
            #expect(r.status == 1)
            #expect(r.stderr.contains("PID \(getpid())"), "\(r.stderr)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() == before)
        }
        lock.release()
        // Unlocked, the same command gets past the lock (and fails on the empty data directory).
        let r = try Self.run(["train", "--data", p.emptyData, "--quiet", "--checkpoint-dir", dir])
        #expect(r.status == 78, "\(r.stderr)")  // missing data files: configuration, not transient
        #expect(!r.stderr.contains("PID"))
        #expect(r.stderr.contains(p.emptyData))
    }

    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST"))
    func killedWriterLeavesNoStaleLock() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = try ChildProcess(["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "256", "--test-limit", "50",
                                      "--batch-size", "64", "--epochs", "1000", "--threads", "1", "--quiet",
                                      "--checkpoint-dir", dir + "/ck"], environment: .hermetic)
        let lockFile = dir + "/ck/" + CheckpointDirectoryLock.fileName
        let holding = child.wait(timeout: .seconds(60)) {
            (try? String(contentsOfFile: lockFile, encoding: .utf8))?.hasSuffix("\n") == true
        }
        #expect(holding)
        #expect(throws: CheckpointError.self) { _ = try CheckpointDirectory(path: dir + "/ck").lock() }
        child.signal(SIGKILL)
        _ = child.waitForExit(killingAfter: .seconds(30))
        let lock = try CheckpointDirectory(path: dir + "/ck").lock()
        #expect(lock.isHeld)
    }

    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST"))
    func resumeSkipsMisnamedAndSpecialFilesAndKeepKeepsWhatItWrote() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let base = ["train", "--data", Fixtures.mnistDirectory!, "--train-limit", "256", "--test-limit", "50",
                    "--batch-size", "64", "--threads", "1", "--quiet"]
        let source = try Self.run(base + ["--epochs", "2", "--checkpoint-dir", root + "/src", "--save-every-steps", "2"])
        #expect(source.status == 0, "\(source.stderr)")
        let ck = root + "/ck"
        try FileManager.default.createDirectory(atPath: ck, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: root + "/src/ckpt-000000000006.spt", toPath: ck + "/ckpt-000000000006.spt")
        try FileManager.default.copyItem(atPath: root + "/src/ckpt-000000000002.spt", toPath: ck + "/ckpt-0000000000099.spt")
        #expect(mkfifo(ck + "/ckpt-000000000010.spt", 0o600) == 0)
        let r = try Self.run(base + ["--epochs", "3", "--checkpoint-dir", ck, "--keep", "1", "--summary", root + "/s.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("resuming from \(ck)/ckpt-000000000006.spt"), "\(r.stderr)")
        #expect(r.stderr.contains("skipping checkpoint \(ck)/ckpt-0000000000099.spt"))
        #expect(r.stderr.contains("skipping checkpoint \(ck)/ckpt-000000000010.spt"))
        let summary = try Fixtures.summary(root + "/s.json")
        #expect(summary["global_step"] as? Int == 12)
        #expect(summary["checkpoint"] as? String == ck + "/ckpt-000000000012.spt")
        // The step-12 file the run wrote is kept; the misnamed step-2 content and step 6 and
        // 8 are older and go; the FIFO (newer by name, not a checkpoint) is left alone.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: ck)) ?? []).filter { $0.hasSuffix(".spt") }.sorted()
        #expect(names == ["ckpt-000000000010.spt", "ckpt-000000000012.spt"])
    }
}
