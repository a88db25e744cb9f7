import Foundation
import Testing
import SpotTrain
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The checkpoint directory is never silently wrong: names agree with contents, retention
/// orders by verified content, one writer at a time, and only dead temporary files go.
@Suite struct CheckpointDirectoryRuleTests {
    /// A directory with real training-state checkpoints of steps 2, 4, 6, 8 (100 examples,
    /// batch size 32: 4 steps per epoch).
    static func trainedDirectory() throws -> (String, CheckpointDirectory) {
        let dir = try CheckpointFixtures.temporaryDirectory()
        let directory = CheckpointDirectory(path: dir)
        let saver = ModelCheckpoint(directory: directory, everySteps: 2, logger: .silent)
        try ModelCheckpointTests.makeTrainer().fit(train: makeToyDataset(count: 100, seed: 5), epochs: 2, batchSize: 32,
                                                   seed: 7, callbacks: [saver])
        #expect(try directory.list().map(\.globalStep) == [2, 4, 6, 8])
        return (dir, directory)
    }

    static func copy(_ dir: String, step: Int, to name: String) throws {
        try FileManager.default.copyItem(atPath: dir + "/" + CheckpointDirectory.fileName(forGlobalStep: step),
                                         toPath: dir + "/" + name)
    }

    @Test func verifyRejectsNameStepMismatch() throws {
        let (dir, directory) = try Self.trainedDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // Step 2's content under a 13-digit name that parses as 99, and under step 50's name.
        try Self.copy(dir, step: 2, to: "ckpt-0000000000099.spt")
        try Self.copy(dir, step: 2, to: CheckpointDirectory.fileName(forGlobalStep: 50))
        let results = try directory.verifyAll()
        let bad = results.filter { !$0.isValid }
        #expect(Set(bad.map(\.file.name)) == ["ckpt-0000000000099.spt", "ckpt-000000000050.spt"])
        for result in bad {
            #expect(result.error?.code == .nameMismatch)
            #expect(result.contentGlobalStep == 2)
            #expect(result.error?.description.contains(result.file.name) == true)
        }
        // Resume skips both and takes the newest file whose name and content agree.
        let scan = try directory.latestValid()
        #expect(scan.latest?.file.globalStep == 8)
        #expect(scan.latest?.checkpoint.metadata.globalStep == 8)
        #expect(scan.skipped.map(\.reason.code) == [.nameMismatch, .nameMismatch])
    }

    @Test func pruneOrdersByVerifiedContentAndKeepsNewerContent() throws {
        let (dir, directory) = try Self.trainedDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // Step 8's content under an old name, step 2's under a new one; step 8's own file goes.
        try Self.copy(dir, step: 8, to: CheckpointDirectory.fileName(forGlobalStep: 1))
        try Self.copy(dir, step: 2, to: "ckpt-0000000000099.spt")
        try FileManager.default.removeItem(atPath: directory.filePath(forGlobalStep: 8))
        let deleted = try directory.prune(keep: 1)
        // Kept: 6 (the newest valid). Deleted: 2, 4 and the misnamed step-2 content. The
        // misnamed file holding step 8 is newer than what is kept: it stays.
        #expect(Set(deleted.map(\.name)) == [CheckpointDirectory.fileName(forGlobalStep: 2),
                                              CheckpointDirectory.fileName(forGlobalStep: 4), "ckpt-0000000000099.spt"])
        #expect(try CheckpointFixtures.names(in: dir).filter { $0.hasSuffix(".spt") }
                == [CheckpointDirectory.fileName(forGlobalStep: 1), CheckpointDirectory.fileName(forGlobalStep: 6)])
    }

    @Test func pruneNeverDeletesTheFileJustWritten() throws {
        let (dir, directory) = try Self.trainedDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // A run resumed from step 4 (say) just wrote step 6; step 8 is newer and valid.
        let justWritten = try #require(try directory.list().first { $0.globalStep == 6 })
        let deleted = try directory.prune(keep: 1, protecting: justWritten)
        #expect(deleted.map(\.globalStep) == [2, 4])
        #expect(try directory.list().map(\.globalStep) == [6, 8])
    }

    @Test func cleanupRemovesOnlyTemporaryFilesOfDeadProcesses() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        // pid_max is at most 2^22 on Linux: this process id cannot exist.
        let dead = ".ckpt-000000000009.spt.tmp-2147480000-a1b2"
        let mine = ".ckpt-000000000010.spt.tmp-\(getpid())-c3d4"
        let live = ".ckpt-000000000011.spt.tmp-1-e5f6"  // init: always alive
        let unknown = ".ckpt-000000000012.spt.tmp-x-g7h8"
        for name in [dead, mine, live, unknown] {
            #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1, 2, 3])))
        }
        #expect(try directory.cleanStaleTemporaryFiles() == [dead])
        #expect(try CheckpointFixtures.names(in: dir) == [mine, live, unknown].sorted())
        #expect(CheckpointDirectory.processIdentifier(inTemporaryFileName: mine) == getpid())
        #expect(CheckpointDirectory.processIdentifier(inTemporaryFileName: unknown) == nil)
    }

    @Test func secondWriterLockFailsAtOnceNamingTheHolder() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir + "/ck")
        let first = try directory.lock()
        #expect(first.isHeld)
        let before = try CheckpointFixtures.names(in: dir + "/ck")
        #expect(before == [CheckpointDirectoryLock.fileName])
        // flock locks belong to an open file description: a second open conflicts even in
        // the same process, exactly as a second process would.
        do {
            _ = try directory.lock()
            Issue.record("a second writer got the lock")
        } catch let error as CheckpointError {
            #expect(error.code == .locked)
            #expect(error.message.contains("PID \(getpid())"))
        }
        #expect(try CheckpointFixtures.names(in: dir + "/ck") == before)
        first.release()
        #expect(!first.isHeld)
        let again = try directory.lock()
        #expect(again.isHeld)
    }

    @Test func lockRejectsADirectoryPathOfTheWrongKind() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/file", contents: Data()))
        #expect(mkfifo(dir + "/fifo", 0o600) == 0)
        #expect(symlink(dir + "/nowhere", dir + "/dangling") == 0)
        for name in ["file", "fifo", "dangling"] {
            #expect(throws: CheckpointError.self, "\(name)") { _ = try CheckpointDirectory(path: dir + "/" + name).lock() }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere"))
    }
}
