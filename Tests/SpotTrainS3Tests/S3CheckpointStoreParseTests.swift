import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3
import Testing

@Suite struct S3CheckpointStoreParseTests {
    @Test(arguments: [
        ("s3://my-ckpts/run-7", "my-ckpts", "run-7"),
        ("s3://my-ckpts/run-7/", "my-ckpts", "run-7"),
        ("s3://my-ckpts/team/a b+ü/run", "my-ckpts", "team/a b+ü/run"),
        ("s3://my.ckpts.2026/x", "my.ckpts.2026", "x"),
        ("s3://abc", "abc", ""),
        ("s3://abc/", "abc", ""),
    ])
    func parseSplitsBucketAndPrefix(url: String, bucket: String, prefix: String) throws {
        let parsed = try S3CheckpointStore.parse(url)
        #expect(parsed.bucket == bucket)
        #expect(parsed.prefix == prefix)
    }

    @Test(arguments: [
        ("", "does not start with s3://"),
        ("my-ckpts/run", "does not start with s3://"),
        ("S3://my-ckpts/run", "does not start with s3://"),
        ("https://my-ckpts.s3.amazonaws.com/run", "does not start with s3://"),
        ("s3://", "no bucket name"),
        ("s3:///run", "no bucket name"),
        ("s3://ab/run", "bucket name 'ab' is invalid"),
        ("s3://My-Ckpts/run", "bucket name 'My-Ckpts' is invalid"),
        ("s3://my_ckpts/run", "bucket name 'my_ckpts' is invalid"),
        ("s3://-ckpts/run", "bucket name '-ckpts' is invalid"),
        ("s3://ckpts-/run", "bucket name 'ckpts-' is invalid"),
        ("s3://my..ckpts/run", "bucket name 'my..ckpts' is invalid"),
        ("s3://192.168.1.10/run", "bucket name '192.168.1.10' is invalid"),
        ("s3://" + String(repeating: "a", count: 64) + "/run", "is invalid"),
        ("s3://my-ckpts//run", "must not start or end with '/'"),
        ("s3://my-ckpts/run//x", "empty segment"),
        ("s3://my-ckpts/run//", "must not start or end with '/'"),
        ("s3://my-ckpts/../other", "has a '..' segment"),
        ("s3://my-ckpts/run/..", "has a '..' segment"),
        ("s3://my-ckpts/run/./x", "has a '.' segment"),
        ("s3://my-ckpts/run\n", "control characters"),
        ("s3://my-ckpts/ru\u{0}n", "control characters"),
        ("s3://my-ckpts/run\u{85}", "control characters"),
        ("s3://my-ckpts/" + String(repeating: "p", count: 769), "769 UTF-8 bytes long"),
    ])
    func parseRefusesWhatCannotBeAStore(url: String, reason: String) async {
        let error = await expectStoreError(.refused) { _ = try S3CheckpointStore.parse(url) }
        #expect(error?.message.contains(reason) == true, "\(String(describing: error))")
        #expect(error?.message.contains("is not an s3://BUCKET/PREFIX URL") == true || error?.message.contains("'s3://") == true,
                "the message names the argument: \(String(describing: error))")
        #expect(error?.description.unicodeScalars.contains { $0.value < 0x20 } == false, "no control characters in the message")
    }

    @Test func theLongestPrefixLeavesRoomForAFolderAndAName() throws {
        let prefix = String(repeating: "p", count: S3CheckpointStore.maximumPrefixBytes)
        #expect(try S3CheckpointStore.parse("s3://my-ckpts/" + prefix).prefix == prefix)
        let key = prefix + "/" + String(repeating: "f", count: 128) + "/" + StoreTest.name(Int.max)
        #expect(key.utf8.count <= 1024)
    }

    @Test func locationsNameTheBucketPrefixAndObject() {
        let transport = StoreScriptedTransport { _ in HTTPResponse(status: 500) }
        let store = StoreTest.store(transport, prefix: "team/run")
        #expect(store.location == "s3://ckpt-bucket/team/run")
        #expect(store.location(of: StoreTest.name(100)) == "s3://ckpt-bucket/team/run/ckpt-000000000100.spt")
        let root = StoreTest.store(transport, prefix: "")
        #expect(root.location == "s3://ckpt-bucket/")
        #expect(root.location(of: StoreTest.name(1)) == "s3://ckpt-bucket/ckpt-000000000001.spt")
        #expect((try? S3CheckpointStore.parse(root.location))?.prefix == "")
        #expect((try? S3CheckpointStore.parse(store.location))?.prefix == "team/run")
    }

    /// The initializer cannot throw; a store built from values `parse` would refuse refuses
    /// every operation instead, before anything is sent.
    @Test(arguments: [("Bad_Bucket", "run"), ("ckpt-bucket", "/run"), ("ckpt-bucket", "run/"),
                      ("ckpt-bucket", "a/../b"), ("ckpt-bucket", "a\u{7}b")])
    func aStoreOnInvalidValuesRefusesEveryOperationWithoutSending(bucket: String, prefix: String) async {
        let transport = StoreScriptedTransport { _ in HTTPResponse(status: 200) }
        let store = StoreTest.store(transport, bucket: bucket, prefix: prefix)
        let name = StoreTest.name(1)
        await expectStoreError(.refused) { try await store.checkAccess() }
        await expectStoreError(.refused) { _ = try await store.list() }
        await expectStoreError(.refused) { try await store.put(name, bytes: [1, 2, 3]) }
        await expectStoreError(.refused) { _ = try await store.get(name, maxBytes: 10) }
        await expectStoreError(.refused) { try await store.delete([name]) }
        await expectStoreError(.refused) { try await store.setAside([name], into: "replaced-1") }
        await expectStoreError(.refused) { _ = try await store.discardIncompleteUploads() }
        #expect(transport.requests.isEmpty)
    }

    @Test func namesAndFoldersThatAreNotTheStoresAreRefusedWithoutSending() async {
        let transport = StoreScriptedTransport { _ in HTTPResponse(status: 200) }
        let store = StoreTest.store(transport)
        for name in ["../ckpt-000000000001.spt", "ckpt-1.spt", "x/ckpt-000000000001.spt", "ckpt-000000000001.spt/", ""] {
            await expectStoreError(.refused) { try await store.put(name, bytes: [1]) }
            await expectStoreError(.refused) { _ = try await store.get(name, maxBytes: 10) }
            await expectStoreError(.refused) { try await store.delete([StoreTest.name(2), name]) }
            await expectStoreError(.refused) { try await store.setAside([StoreTest.name(2), name], into: "replaced-1") }
        }
        for folder in ["", ".", "..", "a/b", "replaced 1", String(repeating: "f", count: 129)] {
            await expectStoreError(.refused) { try await store.setAside([StoreTest.name(2)], into: folder) }
        }
        #expect(transport.requests.isEmpty)
    }
}
