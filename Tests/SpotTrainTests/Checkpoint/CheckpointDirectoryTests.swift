import Foundation
import Testing
import SpotTrain

@Suite struct CheckpointDirectoryTests {
    @Test func fileNamesSortByGlobalStep() {
        #expect(CheckpointDirectory.fileName(forGlobalStep: 1234) == "ckpt-000000001234.spt")
        #expect(CheckpointDirectory.globalStep(fromFileName: "ckpt-000000001234.spt") == 1234)
        #expect(CheckpointDirectory.globalStep(fromFileName: "ckpt-1234567890123.spt") == 1_234_567_890_123)
        for name in ["ckpt-1234.spt", "ckpt-00000000123x.spt", ".ckpt-000000001234.spt.tmp-1-ab", "ckpt-000000001234.spt.bak", "notes.txt"] {
            #expect(CheckpointDirectory.globalStep(fromFileName: name) == nil, "\(name)")
        }
        #expect(CheckpointDirectory.isTemporaryFileName(".ckpt-000000001234.spt.tmp-42-9f"))
    }

    @Test func saveListAndLoadTheLatest() throws {
        let path = try CheckpointFixtures.temporaryDirectory() + "/nested/run"
        defer { CheckpointFixtures.remove(path) }
        let directory = CheckpointDirectory(path: path, options: .fast)
        #expect(try directory.list().isEmpty)
        #expect(try directory.latestValid().latest == nil)
        for step in [5, 100, 20] { try directory.save(CheckpointFixtures.small(globalStep: step, seed: UInt64(step))) }
        try CheckpointFixtures.write([1, 2, 3], to: path + "/unrelated.bin")
        #expect(try directory.list().map(\.globalStep) == [5, 20, 100])
        let scan = try directory.latestValid()
        #expect(scan.skipped.isEmpty)
        #expect(scan.latest?.file.globalStep == 100)
        #expect(CheckpointFixtures.bits(scan.latest!.checkpoint) == CheckpointFixtures.bits(CheckpointFixtures.small(globalStep: 100, seed: 100)))
        #expect(try directory.verifyAll().allSatisfy(\.isValid))
        #expect(try CheckpointFixtures.names(in: path) == ["ckpt-000000000005.spt", "ckpt-000000000020.spt", "ckpt-000000000100.spt", "unrelated.bin"])
    }

    @Test func latestValidFallsBackPastCorruptAndPartialFiles() throws {
        let path = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(path) }
        let directory = CheckpointDirectory(path: path)
        for step in [10, 20, 30, 40] { try directory.save(CheckpointFixtures.small(globalStep: step, seed: UInt64(step))) }
        let f40 = directory.filePath(forGlobalStep: 40), f30 = directory.filePath(forGlobalStep: 30)
        var bytes = try CheckpointFixtures.read(f40)
        bytes[bytes.count / 2] ^= 0x10
        try CheckpointFixtures.write(bytes, to: f40)                          // corrupt
        try CheckpointFixtures.write(Array(try CheckpointFixtures.read(f30).prefix(500)), to: f30)   // partial
        try CheckpointFixtures.write([], to: directory.filePath(forGlobalStep: 50))                   // empty
        let scan = try directory.latestValid()
        #expect(scan.latest?.file.globalStep == 20)
        #expect(scan.latest?.checkpoint.metadata.globalStep == 20)
        #expect(scan.skipped.map(\.file.globalStep) == [50, 40, 30])
        #expect(scan.skipped.map(\.reason.code) == [.truncated, .checksumMismatch, .truncated])
        #expect(scan.skipped[1].reason.path == f40)
        #expect(scan.skipped[1].reason.description.contains(f40))
        let verification = try directory.verifyAll()
        #expect(verification.map(\.isValid) == [true, true, false, false, false])
    }

    @Test func staleTemporaryFilesAreIgnoredAndCleanedAtTheNextSave() throws {
        let path = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(path) }
        let directory = CheckpointDirectory(path: path)
        try directory.save(CheckpointFixtures.small(globalStep: 1))
        // A save killed after writing half its temporary file.
        let full = try CheckpointWriter().encode(CheckpointFixtures.small(globalStep: 2))
        let stale = ".ckpt-000000000002.spt.tmp-999-abc"
        try CheckpointFixtures.write(Array(full.prefix(300)), to: path + "/" + stale)
        #expect(try directory.list().map(\.globalStep) == [1])
        #expect(try directory.latestValid().latest?.file.globalStep == 1)
        try directory.save(CheckpointFixtures.small(globalStep: 3))
        #expect(try CheckpointFixtures.names(in: path) == ["ckpt-000000000001.spt", "ckpt-000000000003.spt"])
        try CheckpointFixtures.write([0], to: path + "/" + stale)
        #expect(try directory.cleanStaleTemporaryFiles() == [stale])
    }

    @Test(arguments: FailingFileSystem.Operation.allCases)
    func failedSaveLeavesExistingCheckpointsIntact(failing: FailingFileSystem.Operation) throws {
        let path = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(path) }
        try CheckpointDirectory(path: path).save(CheckpointFixtures.small(globalStep: 100))
        try CheckpointDirectory(path: path).save(CheckpointFixtures.small(globalStep: 200))
        let before = try CheckpointFixtures.names(in: path).map { ($0, try CheckpointFixtures.read(path + "/" + $0)) }

        // A new step, and an overwrite of an existing step, each failing at `failing`.
        for step in [300, 200] {
            let fileSystem = FailingFileSystem(failing: failing)
            let directory = CheckpointDirectory(path: path, options: .fast, fileSystem: fileSystem)
            var thrown: CheckpointError?
            do {
                try directory.save(CheckpointFixtures.small(globalStep: step, seed: 99))
            } catch let error as CheckpointError {
                thrown = error
            }
            #expect(thrown?.code == .io, "\(failing) at step \(step)")
            #expect(thrown?.message.contains("injected") == true)
            #expect(fileSystem.calls(failing) >= 1)
            if failing == .synchronizeDirectory {
                // The rename happened: the new file is complete and valid; the error tells the
                // caller its durability is not guaranteed.
                #expect(try directory.reader.verify(atPath: directory.filePath(forGlobalStep: step)).globalStep == step)
                CheckpointFixtures.remove(directory.filePath(forGlobalStep: 300))
                for (name, bytes) in before { try CheckpointFixtures.write(bytes, to: path + "/" + name) }
            } else {
                let after = try CheckpointFixtures.names(in: path).map { ($0, try CheckpointFixtures.read(path + "/" + $0)) }
                #expect(after.map(\.0) == before.map(\.0), "no temporary file left, no new file")
                #expect(after.map(\.1) == before.map(\.1), "existing files unchanged")
                #expect(try CheckpointDirectory(path: path).latestValid().latest?.file.globalStep == 200)
            }
        }
    }

    @Test func failureOnALaterWriteAlsoLeavesNothingBehind() throws {
        let path = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(path) }
        // A checkpoint large enough to take several writes.
        var checkpoint = CheckpointFixtures.small(globalStep: 9)
        for i in 0..<4 {
            checkpoint.tensors.append(NamedTensor(name: "big\(i)", tensor: Tensor.uniform([40_000], rng: RandomGenerator(seed: UInt64(i)))))
        }
        let probe = FailingFileSystem(failing: nil)
        try CheckpointDirectory(path: path, fileSystem: probe).save(checkpoint)
        let writes = probe.calls(.write)
        #expect(writes >= 3)
        CheckpointFixtures.remove(path + "/" + CheckpointDirectory.fileName(forGlobalStep: 9))
        for n in 1...writes {
            let directory = CheckpointDirectory(path: path, fileSystem: FailingFileSystem(failing: .write, nth: n))
            #expect(throws: CheckpointError.self) { try directory.save(checkpoint) }
            #expect(try CheckpointFixtures.names(in: path).isEmpty, "write \(n)")
        }
    }

    @Test func pruneKeepsTheNewestValidCheckpoints() throws {
        let path = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(path) }
        let directory = CheckpointDirectory(path: path)
        for step in 1...6 { try directory.save(CheckpointFixtures.small(globalStep: step * 10)) }
        #expect(try directory.prune(keep: 3).map(\.globalStep) == [10, 20, 30])
        #expect(try directory.list().map(\.globalStep) == [40, 50, 60])
        #expect(try directory.prune(keep: 3).isEmpty)

        // The newest is corrupt: it does not count, and older valid ones are kept instead.
        let f60 = directory.filePath(forGlobalStep: 60)
        try CheckpointFixtures.write(Array(try CheckpointFixtures.read(f60).dropLast(1)), to: f60)
        #expect(try directory.prune(keep: 2).isEmpty)
        #expect(try directory.prune(keep: 1).map(\.globalStep) == [40])
        #expect(try directory.list().map(\.globalStep) == [50, 60])
        #expect(try directory.latestValid().latest?.file.globalStep == 50)

        // Fewer valid checkpoints than `keep`: nothing is deleted, not even the newest valid one.
        #expect(try directory.prune(keep: 5).isEmpty)
        #expect(try directory.list().map(\.globalStep) == [50, 60])
    }

    @Test func readerReportsMissingFilesAsIOErrors() throws {
        let path = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(path) }
        do {
            _ = try CheckpointReader().read(atPath: path + "/missing.spt")
            Issue.record("reading a missing file succeeded")
        } catch let error as CheckpointError {
            #expect(error.code == .io && error.systemErrorNumber == ENOENT && error.path == path + "/missing.spt")
        }
    }
}
