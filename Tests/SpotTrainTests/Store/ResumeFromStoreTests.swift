import Foundation
import Testing
import SpotTrain

/// ``Resume/latest(from:store:thread:into:batchSize:trainingCount:maxBytes:logger:)``: resuming
/// from the local directory and a store together.
@Suite struct ResumeFromStoreTests {
    static func name(_ step: Int) -> String { CheckpointDirectory.fileName(forGlobalStep: step) }

    /// The parameters after 3 uninterrupted epochs (12 steps).
    static func uninterrupted() throws -> [UInt8] {
        let trainer = ModelCheckpointTests.makeTrainer()
        try trainer.fit(train: StoreFixtures.train, epochs: 3, batchSize: 16, seed: 7)
        return trainer.model.parameterFingerprintBytes()
    }

    /// Trains 6 of the 12 steps, saving at steps 3 and 6 into `directory`.
    static func trainHalf(into directory: CheckpointDirectory) throws {
        let saver = ModelCheckpoint(directory: directory, everyEpoch: false, everySteps: 3, logger: .silent)
        let context = try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16,
                                                                 seed: 7, maxSteps: 6, callbacks: [saver])
        #expect(context.status == .maxSteps)
        #expect(try StoreFixtures.files(directory).map(\.globalStep) == [3, 6])
    }

    /// Copies every checkpoint of `from` into `store`.
    static func copy(_ from: CheckpointDirectory, to store: CheckpointDirectory) async throws {
        for file in try StoreFixtures.files(from) { try await store.put(file.name, bytes: try StoreFixtures.bytes(file.path)) }
    }

    /// Continues `trainer` from `point` to the end of the 3 epochs.
    static func finish(_ trainer: Trainer, from point: ResumePoint) throws -> [UInt8] {
        let context = try trainer.fit(train: StoreFixtures.train, epochs: 3, batchSize: point.batchSize, seed: point.seed,
                                      resumeFrom: point.progress)
        #expect(context.status == .completed && context.globalStep == 12)
        return trainer.model.parameterFingerprintBytes()
    }

    @Test func emptyLocalDirectoryResumesFromTheStoreBitExactly() throws {
        let expected = try Self.uninterrupted()
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        // The first machine trains half-way with a mirror, then goes away with its disk.
        let mirror = CheckpointMirror(store: storeDirectory, directory: local, logger: .silent)
        let saver = ModelCheckpoint(directory: local, everySteps: 3, mirror: mirror, logger: .silent)
        let waiter = WaitForEachUpload(saver: saver, mirror: mirror)
        try ModelCheckpointTests.makeTrainer().fit(train: StoreFixtures.train, epochs: 3, batchSize: 16, seed: 7,
                                                   maxSteps: 6, callbacks: [saver, waiter])
        mirror.stop()
        #expect(try StoreFixtures.files(storeDirectory).map(\.globalStep) == [3, 4, 6])
        try FileManager.default.removeItem(atPath: local.path)

        // A fresh machine: an empty (here: missing) local directory.
        let fresh = CheckpointDirectory(path: local.path + "-fresh")
        defer { CheckpointFixtures.remove(fresh.path) }
        let store = FaultyStore(storeDirectory)
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        let log = SpotLogLines()
        let trainer = ModelCheckpointTests.makeTrainer(seed: 999)  // other weights: all must be restored
        let point = try #require(try Resume.latest(from: fresh, store: store, thread: thread, into: trainer,
                                                   batchSize: 16, trainingCount: 64, logger: log.logger))
        #expect(point.file.globalStep == 6 && point.progress.globalStep == 6)
        #expect(point.file.path == fresh.filePath(forGlobalStep: 6))
        #expect(point.downloadedFrom == storeDirectory.location(of: Self.name(6)))
        #expect(point.source == point.downloadedFrom)
        #expect(point.skipped.isEmpty)
        #expect(store.getAttempts == [Self.name(6)])
        #expect(try CheckpointFixtures.names(in: fresh.path) == [Self.name(6)])
        #expect(try StoreFixtures.bytes(point.file.path) == StoreFixtures.bytes(storeDirectory.location(of: Self.name(6))))
        #expect(log.contains("downloaded checkpoint \(storeDirectory.location(of: Self.name(6)))"))
        #expect(try Self.finish(trainer, from: point) == expected)
    }

    static let damages = ["flipped byte on download", "truncated on download", "truncated object",
                          "another step's content", "not a checkpoint", "a directory"]

    /// The newest object is damaged: it is skipped with a warning, the next older one is used,
    /// and nothing damaged is written into the local directory.
    @Test(arguments: damages)
    func damagedNewestObjectIsSkippedForTheNextOlder(_ damage: String) async throws {
        let expected = try Self.uninterrupted()
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        try Self.trainHalf(into: local)
        try await Self.copy(local, to: storeDirectory)
        let newest = storeDirectory.location(of: Self.name(6))
        var faults: [String: FaultyStore.Damage] = [:]
        switch damage {
        case "flipped byte on download": faults[Self.name(6)] = .flipByte
        case "truncated on download": faults[Self.name(6)] = .truncate
        case "truncated object":
            try CheckpointFixtures.write(Array(try StoreFixtures.bytes(newest).dropLast(1000)), to: newest)
        case "another step's content":
            try CheckpointFixtures.write(try StoreFixtures.bytes(storeDirectory.location(of: Self.name(3))), to: newest)
        case "a directory":
            try FileManager.default.removeItem(atPath: newest)
            try FileManager.default.createDirectory(atPath: newest, withIntermediateDirectories: false)
        default:
            try CheckpointFixtures.write(Array(repeating: 0x41, count: 4096), to: newest)
        }
        let store = FaultyStore(storeDirectory, damage: faults)
        let fresh = CheckpointDirectory(path: local.path + "-fresh")
        defer { CheckpointFixtures.remove(fresh.path) }
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        let log = SpotLogLines()
        let trainer = ModelCheckpointTests.makeTrainer(seed: 999)
        let point = try #require(try Resume.latest(from: fresh, store: store, thread: thread, into: trainer,
                                                   batchSize: 16, trainingCount: 64, logger: log.logger))
        #expect(point.file.globalStep == 3)
        #expect(point.downloadedFrom == storeDirectory.location(of: Self.name(3)))
        #expect(point.skipped.map(\.file.name) == [Self.name(6)])
        #expect(point.skipped.first?.file.path == newest)
        #expect(log.contains("warning: skipping checkpoint \(newest)"), "\(log.all)")
        #expect(store.getAttempts == [Self.name(6), Self.name(3)])
        // Only the verified checkpoint was written locally.
        #expect(try CheckpointFixtures.names(in: fresh.path) == [Self.name(3)])
        #expect(try Self.finish(trainer, from: point) == expected)
    }

    @Test func localCheckpointNewerThanTheStoreIsUsedWithoutADownload() async throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        try Self.trainHalf(into: local)
        try await storeDirectory.put(Self.name(3), bytes: try StoreFixtures.bytes(local.filePath(forGlobalStep: 3)))
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        for storeSteps in [[3], [3, 6]] {
            if storeSteps.contains(6) {
                try await storeDirectory.put(Self.name(6), bytes: try StoreFixtures.bytes(local.filePath(forGlobalStep: 6)))
            }
            let store = FaultyStore(storeDirectory)
            let point = try #require(try Resume.latest(from: local, store: store, thread: thread,
                                                       into: ModelCheckpointTests.makeTrainer(), logger: .silent))
            #expect(try point.file == StoreFixtures.files(local).last, "store \(storeSteps)")
            #expect(point.downloadedFrom == nil)
            #expect(point.source == local.filePath(forGlobalStep: 6))
            #expect(store.getAttempts.isEmpty, "store \(storeSteps)")
        }
    }

    @Test func damagedLocalCheckpointIsReplacedByTheStoresCopy() async throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        try Self.trainHalf(into: local)
        try await Self.copy(local, to: storeDirectory)
        let path = local.filePath(forGlobalStep: 6)
        var bytes = try StoreFixtures.bytes(path)
        bytes[bytes.count / 3] ^= 0x10
        try CheckpointFixtures.write(bytes, to: path)
        let store = FaultyStore(storeDirectory)
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        let log = SpotLogLines()
        let point = try #require(try Resume.latest(from: local, store: store, thread: thread,
                                                   into: ModelCheckpointTests.makeTrainer(), logger: log.logger))
        #expect(point.file.globalStep == 6)
        #expect(point.downloadedFrom == storeDirectory.location(of: Self.name(6)))
        #expect(store.getAttempts == [Self.name(6)])
        #expect(try StoreFixtures.bytes(path) == StoreFixtures.bytes(storeDirectory.location(of: Self.name(6))))
        #expect(local.verify(point.file).isValid)
    }

    /// A store that cannot be listed or read is an error, never a silent resume from an older
    /// local checkpoint (which would lose the newer progress the store may hold).
    @Test(arguments: ["list", "get"])
    func unavailableStoreThrowsInsteadOfFallingBack(_ failing: String) async throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        try Self.trainHalf(into: local)
        try await Self.copy(local, to: storeDirectory)
        try FileManager.default.removeItem(atPath: local.filePath(forGlobalStep: 6))  // only the store has step 6
        let store = FaultyStore(storeDirectory, listFailure: failing == "list" ? .unavailable : nil,
                                getFailure: failing == "get" ? .unavailable : nil)
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        let trainer = ModelCheckpointTests.makeTrainer(seed: 999)
        let before = trainer.model.parameterFingerprintBytes()
        do {
            _ = try Resume.latest(from: local, store: store, thread: thread, into: trainer, logger: .silent)
            Issue.record("expected a CheckpointStoreError")
        } catch let error as CheckpointStoreError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("injected \(failing) failure"))
        }
        #expect(trainer.model.parameterFingerprintBytes() == before)
        #expect(try StoreFixtures.files(local).map(\.globalStep) == [3])
    }

    @Test(arguments: [CheckpointStoreError.Code.notFound, .tooLarge])
    func objectThatCannotBeDownloadedForItsOwnReasonIsSkipped(_ code: CheckpointStoreError.Code) async throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        try Self.trainHalf(into: local)
        try await Self.copy(local, to: storeDirectory)
        try FileManager.default.removeItem(atPath: local.filePath(forGlobalStep: 6))
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        let log = SpotLogLines()
        let store = FaultyStore(storeDirectory, getFailure: code == .notFound ? .notFound : nil)
        // tooLarge: the real store refuses an object above maxBytes.
        let maxBytes = code == .tooLarge ? 100 : Resume.defaultMaxDownloadBytes
        let point = try #require(try Resume.latest(from: local, store: store, thread: thread,
                                                   into: ModelCheckpointTests.makeTrainer(), maxBytes: maxBytes,
                                                   logger: log.logger))
        #expect(point.file.globalStep == 3 && point.downloadedFrom == nil)
        #expect(point.skipped.map(\.file.name) == [Self.name(6)])
        #expect(log.contains("warning: skipping checkpoint \(storeDirectory.location(of: Self.name(6)))"))
        #expect(try StoreFixtures.files(local).map(\.globalStep) == [3])
    }

    @Test func neitherHoldingACheckpointStartsFresh() throws {
        let (local, storeDirectory, cleanup) = try StoreFixtures.directories()
        defer { cleanup() }
        let thread = CheckpointStoreThread()
        defer { thread.shutdown() }
        #expect(try Resume.latest(from: local, store: storeDirectory, thread: thread,
                                  into: ModelCheckpointTests.makeTrainer(), logger: .silent) == nil)
    }
}
