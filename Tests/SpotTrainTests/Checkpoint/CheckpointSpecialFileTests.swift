import Foundation
import Testing
import SpotTrain
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nothing hangs, and nothing is allocated blindly, whatever kind of file sits where a
/// checkpoint or data file is expected.
@Suite struct CheckpointSpecialFileTests {
    /// Runs `body` on another thread and fails the test if it does not finish within a
    /// generous watchdog; a reader stuck on `fifo` is then released by opening its other end.
    static func withinWatchdog(_ label: String, fifos: [String] = [], _ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            body()
            done.signal()
        }
        if done.wait(timeout: .now() + 20) == .timedOut {
            Issue.record("\(label): still blocked after 20 s")
            for fifo in fifos {
                let fd = open(fifo, O_WRONLY | O_NONBLOCK)
                if fd >= 0 { close(fd) }
            }
            _ = done.wait(timeout: .now() + 5)
        }
    }

    /// A directory holding one valid checkpoint (step 1) and, under checkpoint names, a
    /// FIFO, a directory, a socket-less dangling symbolic link and a link to a device.
    static func hostileDirectory() throws -> (String, [String: String]) {
        let dir = try CheckpointFixtures.temporaryDirectory()
        try CheckpointDirectory(path: dir).save(CheckpointFixtures.small(globalStep: 1))
        let names = [
            "fifo": CheckpointDirectory.fileName(forGlobalStep: 10),
            "directory": CheckpointDirectory.fileName(forGlobalStep: 11),
            "dangling": CheckpointDirectory.fileName(forGlobalStep: 12),
            "device": CheckpointDirectory.fileName(forGlobalStep: 13),
        ]
        #expect(mkfifo(dir + "/" + names["fifo"]!, 0o600) == 0)
        try FileManager.default.createDirectory(atPath: dir + "/" + names["directory"]!, withIntermediateDirectories: false)
        #expect(symlink(dir + "/nowhere", dir + "/" + names["dangling"]!) == 0)
        #expect(symlink("/dev/zero", dir + "/" + names["device"]!) == 0)
        return (dir, names)
    }

    @Test func specialFilesNamedLikeCheckpointsAreRejectedWithoutBlocking() throws {
        let (dir, names) = try Self.hostileDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let fifo = dir + "/" + names["fifo"]!
        let directory = CheckpointDirectory(path: dir)
        Self.withinWatchdog("verifyAll", fifos: [fifo]) {
            let results = (try? directory.verifyAll()) ?? []
            #expect(results.count == 5)
            #expect(results.filter(\.isValid).map(\.file.globalStep) == [1])
            for r in results where !r.isValid {
                #expect(r.error?.path == r.file.path)
                #expect(r.error?.message.contains("not a regular file") == true
                        || r.error?.message.contains("dangling") == true, "\(r.error?.description ?? "")")
            }
        }
        Self.withinWatchdog("latestValid", fifos: [fifo]) {
            let scan = try? directory.latestValid()
            #expect(scan?.latest?.file.globalStep == 1)
            #expect(scan?.skipped.count == 4)
        }
        Self.withinWatchdog("inspect", fifos: [fifo]) {
            #expect(throws: CheckpointError.self) { try CheckpointReader().inspect(atPath: fifo) }
        }
        Self.withinWatchdog("prune", fifos: [fifo]) {
            #expect((try? directory.prune(keep: 1))?.isEmpty == true)
        }
        #expect(FileManager.default.fileExists(atPath: fifo))
    }

    @Test func idxFilesOfTheWrongKindAreRejectedWithoutBlocking() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let fifo = dir + "/train-images-idx3-ubyte"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(symlink(dir + "/nowhere", dir + "/train-labels-idx1-ubyte") == 0)
        try FileManager.default.createDirectory(atPath: dir + "/t10k-images-idx3-ubyte", withIntermediateDirectories: false)
        Self.withinWatchdog("IDX FIFO", fifos: [fifo]) {
            do {
                _ = try IDXReader().read(fifo)
                Issue.record("a FIFO was read as an IDX file")
            } catch {
                #expect("\(error)".contains(fifo))
                #expect("\(error)".contains("FIFO"))
            }
        }
        for name in ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"] {
            #expect(throws: (any Error).self) { _ = try IDXReader().read(dir + "/" + name) }
        }
        Self.withinWatchdog("MNIST.load", fifos: [fifo]) {
            #expect(throws: (any Error).self) { _ = try MNIST.load(from: dir) }
        }
    }

    @Test func fileBiggerThanItsFooterSaysIsRejectedBeforeItIsRead() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let small = try CheckpointWriter(options: .fast).encode(CheckpointFixtures.small())
        // A 2 GiB sparse file: a valid checkpoint's start, a hole, and its footer at the end
        // (so the completion marker is there, but the footer's data length is not the size).
        let path = CheckpointDirectory(path: dir).filePath(forGlobalStep: 7)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let size = 2 << 30
        _ = small.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = small.withUnsafeBytes { pwrite(fd, $0.baseAddress! + $0.count - 24, 24, off_t(size - 24)) }
        close(fd)
        var before = rusage(), after = rusage()
        getrusage(RUSAGE_SELF.rawValue, &before)
        do {
            try CheckpointReader().verify(atPath: path)
            Issue.record("a file larger than its footer says verified")
        } catch let error as CheckpointError {
            #expect(error.code == .truncated)
            #expect(error.message.contains("footer"))
        }
        getrusage(RUSAGE_SELF.rawValue, &after)
        // ru_maxrss is in KiB: reading the whole file would add 2 GiB to the peak.
        #expect(after.ru_maxrss - before.ru_maxrss < 1 << 20)
    }
}
