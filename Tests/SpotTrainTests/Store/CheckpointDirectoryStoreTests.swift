import Foundation
import Testing
import SpotTrain

/// ``CheckpointDirectory`` as a ``CheckpointStore`` (the reference implementation).
@Suite struct CheckpointDirectoryStoreTests {
    static func checkpointBytes(step: Int) throws -> [UInt8] {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let file = try CheckpointDirectory(path: dir).save(CheckpointFixtures.small(globalStep: step))
        return try CheckpointFixtures.read(file.path)
    }

    static func expectStoreError(_ code: CheckpointStoreError.Code, _ comment: Comment? = nil,
                                 sourceLocation: SourceLocation = #_sourceLocation,
                                 _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected a CheckpointStoreError .\(code.rawValue), nothing was thrown. \(comment.map { "\($0)" } ?? "")",
                         sourceLocation: sourceLocation)
        } catch let error as CheckpointStoreError {
            #expect(error.code == code, "\(error) \(comment.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected a CheckpointStoreError .\(code.rawValue), got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func putGetListDeleteSetAsideRoundTrip() async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // The store directory need not exist before the first put.
        let store = CheckpointDirectory(path: dir + "/store")
        try await store.checkAccess()
        #expect(try CheckpointFixtures.names(in: dir + "/store") == [], "the access probe is removed again")
        #expect(try await store.list() == [])

        let a = try Self.checkpointBytes(step: 3), b = try Self.checkpointBytes(step: 12)
        let nameA = CheckpointDirectory.fileName(forGlobalStep: 3), nameB = CheckpointDirectory.fileName(forGlobalStep: 12)
        let storedA = try await store.put(nameA, bytes: a)
        #expect(storedA == StoredCheckpoint(name: nameA, globalStep: 3, size: a.count, location: dir + "/store/" + nameA))
        try await store.put(nameB, bytes: b)
        #expect(store.location(of: nameB) == dir + "/store/" + nameB)
        let listed = try await store.list().sorted { $0.globalStep < $1.globalStep }
        #expect(listed.map(\.name) == [nameA, nameB])
        #expect(listed.map(\.globalStep) == [3, 12])
        #expect(try await store.get(nameA, maxBytes: 1 << 20) == a)
        #expect(try await store.get(nameB, maxBytes: b.count) == b)
        // No temporary files are left by the atomic writes.
        #expect(try CheckpointFixtures.names(in: dir + "/store") == [nameA, nameB])

        // Replacing an object.
        try await store.put(nameA, bytes: b)
        #expect(try await store.get(nameA, maxBytes: 1 << 20) == b)

        try await store.setAside([nameA], into: "replaced-20261129T153000Z")
        #expect(try await store.list().map(\.name) == [nameB])
        #expect(try CheckpointFixtures.read(dir + "/store/replaced-20261129T153000Z/" + nameA) == b)

        // Deleting a name that does not exist is no error.
        try await store.delete([nameB, CheckpointDirectory.fileName(forGlobalStep: 99)])
        #expect(try await store.list() == [])
        #expect(try await store.discardIncompleteUploads() == 0)
    }

    static let badNames = ["../x", "a/b", "ckpt-1.spt", "", "../ckpt-000000000001.spt", "ckpt-000000000001.spt/..",
                           "ckpt-00000000000a.spt", ".ckpt-000000000001.spt.tmp-1-2"]

    @Test(arguments: badNames)
    func namesThatAreNotCheckpointNamesAreRefused(_ name: String) async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let store = CheckpointDirectory(path: dir + "/store")
        let bytes = try Self.checkpointBytes(step: 1)
        await Self.expectStoreError(.refused, "put \(name)") { try await store.put(name, bytes: bytes) }
        await Self.expectStoreError(.refused, "get \(name)") { _ = try await store.get(name, maxBytes: 1 << 20) }
        await Self.expectStoreError(.refused, "delete \(name)") { try await store.delete([name]) }
        await Self.expectStoreError(.refused, "setAside \(name)") { try await store.setAside([name], into: "aside") }
        #expect(throws: CheckpointStoreError.self) { _ = try CheckpointStoreError.checkName(name, in: dir) }
        // Nothing was written anywhere: not in the store, not next to it.
        #expect(try CheckpointFixtures.names(in: dir) == [])
    }

    @Test(arguments: ["..", ".", "a/b", "", "x y", "../replaced", String(repeating: "a", count: 129), "é"])
    func setAsideFolderNamesThatAreNotOneComponentAreRefused(_ folder: String) async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let store = CheckpointDirectory(path: dir + "/store")
        let name = CheckpointDirectory.fileName(forGlobalStep: 1)
        try await store.put(name, bytes: try Self.checkpointBytes(step: 1))
        await Self.expectStoreError(.refused, "folder '\(folder)'") { try await store.setAside([name], into: folder) }
        #expect(throws: CheckpointStoreError.self) { try CheckpointStoreError.checkFolder(folder, in: dir) }
        #expect(try CheckpointFixtures.names(in: dir) == ["store"])
        #expect(try CheckpointFixtures.names(in: dir + "/store") == [name])
    }

    @Test func getOfAMissingObjectIsNotFound() async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let name = CheckpointDirectory.fileName(forGlobalStep: 5)
        // Neither in an existing directory nor in a missing one.
        await Self.expectStoreError(.notFound) { _ = try await CheckpointDirectory(path: dir).get(name, maxBytes: 1 << 20) }
        await Self.expectStoreError(.notFound) {
            _ = try await CheckpointDirectory(path: dir + "/missing").get(name, maxBytes: 1 << 20)
        }
    }

    @Test func getOfAnObjectLargerThanAcceptedIsTooLarge() async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let store = CheckpointDirectory(path: dir)
        let bytes = try Self.checkpointBytes(step: 5)
        let name = CheckpointDirectory.fileName(forGlobalStep: 5)
        try await store.put(name, bytes: bytes)
        await Self.expectStoreError(.tooLarge) { _ = try await store.get(name, maxBytes: bytes.count - 1) }
    }

    /// A damaged object is a fact about its content (the reader of a store skips it), not a
    /// store that cannot be reached.
    @Test(arguments: ["truncated", "trailing", "empty", "not a checkpoint", "a directory", "a FIFO"])
    func damagedObjectIsReportedAsCorruptNotUnavailable(_ kind: String) async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let store = CheckpointDirectory(path: dir)
        let good = try Self.checkpointBytes(step: 5)
        let name = CheckpointDirectory.fileName(forGlobalStep: 5)
        switch kind {
        case "a directory": try FileManager.default.createDirectory(atPath: dir + "/" + name, withIntermediateDirectories: false)
        case "a FIFO": #expect(mkfifo(dir + "/" + name, 0o600) == 0)
        default:
            let bytes: [UInt8] = switch kind {
            case "truncated": Array(good.prefix(good.count / 2))
            case "trailing": good + [0]
            case "empty": []
            default: Array(repeating: 0x41, count: good.count)
            }
            try await store.put(name, bytes: bytes)
        }
        #expect(try await store.list().map(\.name) == [name])
        await Self.expectStoreError(.corrupt, "\(kind)") { _ = try await store.get(name, maxBytes: 1 << 20) }
    }

    @Test func checkAccessOnAnUnwritableLocationIsRefused() async throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        // A regular file where the directory should be: no retry fixes that.
        try CheckpointFixtures.write([1, 2, 3], to: dir + "/file")
        await Self.expectStoreError(.refused) { try await CheckpointDirectory(path: dir + "/file").checkAccess() }
        await Self.expectStoreError(.refused) { try await CheckpointDirectory(path: dir + "/file/sub").checkAccess() }
    }
}
