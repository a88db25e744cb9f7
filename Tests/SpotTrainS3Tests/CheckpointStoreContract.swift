import Foundation
import SpotTrain
import SpotTrainS3
import Testing

/// What every ``CheckpointStore`` does, checked the same way for the local directory and
/// for S3: an empty store lists nothing; put, list, get (bounded), replace, delete (missing
/// names are no error), set aside, discard, the access check; names that are not
/// checkpoint names are refused.
enum CheckpointStoreContract {
    /// A small valid checkpoint file for `step` (the local store reads only framed files).
    static func checkpointBytes(step: Int, seed: Float = 1) throws -> [UInt8] {
        let weight = Tensor(shape: [2, 3], values: (0..<6).map { Float($0) * seed + Float(step) })
        let metadata = CheckpointMetadata(createdUnixMilliseconds: 1_795_000_000_000, globalStep: step,
                                          modelSignature: ModelSignature([(name: "dense.weight", shape: [2, 3])]))
        return try CheckpointWriter().encode(Checkpoint(metadata: metadata, tensors: [NamedTensor(name: "dense.weight", tensor: weight)]))
    }

    /// Runs the contract on `store`, which must be empty.
    static func check(_ store: some CheckpointStore, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let name = { (step: Int) in CheckpointDirectory.fileName(forGlobalStep: step) }
        #expect(try await store.list().isEmpty, "a new store is empty", sourceLocation: sourceLocation)
        try await store.checkAccess()
        #expect(try await store.list().isEmpty, "the access check leaves nothing behind", sourceLocation: sourceLocation)

        var contents: [Int: [UInt8]] = [:]
        for step in [100, 200, 300] {
            contents[step] = try checkpointBytes(step: step)
            let stored = try await store.put(name(step), bytes: contents[step]!)
            #expect(stored.name == name(step) && stored.globalStep == step, sourceLocation: sourceLocation)
            #expect(stored.location == store.location(of: name(step)), sourceLocation: sourceLocation)
        }
        let listed = try await store.list().sorted { $0.globalStep < $1.globalStep }
        #expect(listed.map(\.name) == [name(100), name(200), name(300)], sourceLocation: sourceLocation)
        #expect(listed.map(\.globalStep) == [100, 200, 300], sourceLocation: sourceLocation)
        for entry in listed {
            #expect(entry.size == nil || entry.size == contents[entry.globalStep]!.count, sourceLocation: sourceLocation)
            #expect(entry.location == store.location(of: entry.name), sourceLocation: sourceLocation)
        }

        // Reads: exact limit accepted, one byte less refused, a missing name not found.
        let size = contents[200]!.count
        #expect(try await store.get(name(200), maxBytes: size) == contents[200]!, sourceLocation: sourceLocation)
        #expect(try await store.get(name(200), maxBytes: Int.max) == contents[200]!, sourceLocation: sourceLocation)
        await expectStoreError(.tooLarge, sourceLocation: sourceLocation) { _ = try await store.get(name(200), maxBytes: size - 1) }
        await expectStoreError(.notFound, sourceLocation: sourceLocation) { _ = try await store.get(name(999), maxBytes: 1 << 20) }

        // A put replaces an object of the same name.
        let replacement = try checkpointBytes(step: 300, seed: 2)
        try await store.put(name(300), bytes: replacement)
        #expect(try await store.get(name(300), maxBytes: 1 << 20) == replacement, sourceLocation: sourceLocation)

        // Names that are not checkpoint names never reach the store.
        for bad in ["../" + name(1), "ckpt-1.spt", "sub/" + name(1)] {
            await expectStoreError(.refused, sourceLocation: sourceLocation) { try await store.put(bad, bytes: contents[100]!) }
            await expectStoreError(.refused, sourceLocation: sourceLocation) { _ = try await store.get(bad, maxBytes: 100) }
        }
        await expectStoreError(.refused, sourceLocation: sourceLocation) { try await store.setAside([name(100)], into: "../up") }

        // Delete: missing names are no error.
        try await store.delete([name(200), name(999)])
        #expect(try await store.list().map(\.name).sorted() == [name(100), name(300)], sourceLocation: sourceLocation)

        // Set aside: gone from the listing and from get, kept in the folder (checked by the caller).
        try await store.setAside([name(100)], into: "replaced-20261129T153000Z")
        #expect(try await store.list().map(\.name) == [name(300)], sourceLocation: sourceLocation)
        await expectStoreError(.notFound, sourceLocation: sourceLocation) { _ = try await store.get(name(100), maxBytes: 1 << 20) }
        try await store.setAside([], into: "replaced-empty")

        #expect(try await store.discardIncompleteUploads() == 0, sourceLocation: sourceLocation)
        try await store.delete([name(300)])
        #expect(try await store.list().isEmpty, sourceLocation: sourceLocation)
    }
}

@Suite struct LocalCheckpointStoreContractTests {
    @Test func theLocalDirectoryKeepsTheStoreContract() async throws {
        let path = NSTemporaryDirectory() + "spottrain-store-contract-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = CheckpointDirectory(path: path)
        try await CheckpointStoreContract.check(store)
        let setAside = path + "/replaced-20261129T153000Z/" + CheckpointDirectory.fileName(forGlobalStep: 100)
        #expect(FileManager.default.fileExists(atPath: setAside))
    }
}
