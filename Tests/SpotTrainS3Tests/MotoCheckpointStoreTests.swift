import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3
import Testing

/// ``S3CheckpointStore`` against moto's S3 with signature checking on.
///
/// Each test creates an IAM user and access key while checking is off, switches checking on
/// (`POST /moto-api/reset-auth` with body `0`), works with those keys, and switches it off
/// again. The server is `SPOTTRAIN_MOTO_STORE_AUTH_ENDPOINT`, this suite's own: switching
/// auth is global to a server, and the S3 client's auth suite runs in parallel with this one.
/// moto.sh starts it through `Scripts/ci/moto_raw_uri_server.py`: moto 5.2.1 verifies
/// signatures against a percent-decoded URL, so it would refuse a correctly signed
/// `ListObjectsV2` with `prefix=run%2F`; the launcher hands moto the request target as sent
/// for its check. The signer is not bent to moto (real S3 wants the canonical encoding).
@Suite(.serialized,
       .enabled(if: StoreMoto.endpoint != nil,
                "SPOTTRAIN_MOTO_STORE_AUTH_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct MotoCheckpointStoreTests {
    var endpoint: URL { StoreMoto.endpoint! }

    func client(_ credentials: AWSCredentials) -> S3Client {
        S3Client(region: "us-east-1", endpoint: endpoint, credentialsProvider: StaticCredentialsProvider(credentials),
                 transport: AsyncHTTPClientTransport.aws(), retryPolicy: .none, requestTimeout: .seconds(60),
                 multipart: S3MultipartConfiguration(threshold: S3MultipartConfiguration.minimumPartSize,
                                                     partSize: S3MultipartConfiguration.minimumPartSize, concurrency: 2))
    }

    /// Runs `body` with a new user's keys and a new bucket, signature checking on.
    func withCheckedSignatures(policy: String = StoreMoto.allowAll,
                               _ body: (_ keys: AWSCredentials, _ bucket: String) async throws -> Void) async throws {
        try await StoreMoto.setAuth("inf", endpoint)
        let keys = try await StoreMoto.createUserKeys(endpoint, policy: policy)
        let bucket = "spottrain-store-\(UUID().uuidString.prefix(8).lowercased())"
        try await client(keys).createBucket(bucket)
        try await StoreMoto.setAuth("0", endpoint)
        do {
            try await body(keys, bucket)
        } catch {
            try? await StoreMoto.setAuth("inf", endpoint)
            throw error
        }
        try await StoreMoto.setAuth("inf", endpoint)
    }

    @Test func theS3StoreKeepsTheStoreContract() async throws {
        try await withCheckedSignatures { keys, bucket in
            let s3 = client(keys)
            let prefix = "team/run 7+ü"
            let store = S3CheckpointStore(client: s3, bucket: bucket, prefix: prefix)
            try await CheckpointStoreContract.check(store)
            // The set-aside object is kept under PREFIX/FOLDER/NAME, byte for byte.
            let aside = try await s3.getObject(bucket: bucket, key: "\(prefix)/replaced-20261129T153000Z/ckpt-000000000100.spt")
            #expect(Array(aside.body) == (try CheckpointStoreContract.checkpointBytes(step: 100)))
            // Nothing else was left: no probe object, no originals.
            let keysLeft = try await s3.listObjects(bucket: bucket, prefix: "").map(\.key)
            #expect(keysLeft == ["\(prefix)/replaced-20261129T153000Z/ckpt-000000000100.spt"])
        }
    }

    @Test func aStoreAtTheBucketRootListsOnlyTopLevelCheckpoints() async throws {
        try await withCheckedSignatures { keys, bucket in
            let s3 = client(keys)
            let root = S3CheckpointStore(client: s3, bucket: bucket, prefix: "")
            let nested = S3CheckpointStore(client: s3, bucket: bucket, prefix: "run")
            let bytes = try CheckpointStoreContract.checkpointBytes(step: 5)
            try await root.put(StoreTest.name(5), bytes: bytes)
            try await nested.put(StoreTest.name(6), bytes: bytes)
            _ = try await s3.putObject(Data("x".utf8), bucket: bucket, key: "ckpt-000000000007.spt.tmp")
            #expect(try await root.list().map(\.name) == [StoreTest.name(5)])
            #expect(try await nested.list().map(\.name) == [StoreTest.name(6)])
            #expect(try await root.list().first?.location == "s3://\(bucket)/ckpt-000000000005.spt")
        }
    }

    @Test func multipartPutsRoundTripAndIncompleteUploadsUnderThePrefixAreDiscarded() async throws {
        try await withCheckedSignatures { keys, bucket in
            let s3 = client(keys)
            let store = S3CheckpointStore(client: s3, bucket: bucket, prefix: "run", minimumIncompleteUploadAge: 0)
            let big = StoreTest.bytes(2 * S3MultipartConfiguration.minimumPartSize + 1234, seed: 11)
            try await store.put(StoreTest.name(10), bytes: big)
            #expect(try await store.list().map(\.size) == [big.count])
            #expect(try await store.get(StoreTest.name(10), maxBytes: big.count) == big)

            // Uploads a killed writer left open: one in the store, one elsewhere in the bucket.
            let mine = try await s3.createMultipartUpload(bucket: bucket, key: "run/ckpt-000000000020.spt")
            _ = try await s3.uploadPart(Data(StoreTest.bytes(1000)), bucket: bucket, key: "run/ckpt-000000000020.spt",
                                        uploadId: mine, partNumber: 1)
            let theirs = try await s3.createMultipartUpload(bucket: bucket, key: "runner/ckpt-000000000020.spt")
            #expect(try await store.list().map(\.name) == [StoreTest.name(10)], "an open upload is not a checkpoint")
            #expect(try await store.discardIncompleteUploads() == 1)
            #expect(try await s3.listMultipartUploads(bucket: bucket, prefix: "run/").isEmpty)
            #expect(try await s3.listMultipartUploads(bucket: bucket, prefix: "runner/").map(\.uploadId) == [theirs])
            #expect(try await store.discardIncompleteUploads() == 0)
            try await s3.abortMultipartUpload(bucket: bucket, key: "runner/ckpt-000000000020.spt", uploadId: theirs)
        }
    }

    /// An object over `maxBytes` is refused from its declared length: the transport stops
    /// before reading the body.
    @Test func getOfAnObjectLargerThanMaxBytesIsTooLargeBeforeItsBodyIsRead() async throws {
        try await withCheckedSignatures { keys, bucket in
            let store = S3CheckpointStore(client: client(keys), bucket: bucket, prefix: "run")
            let bytes = StoreTest.bytes(3 << 20, seed: 5)
            try await store.put(StoreTest.name(1), bytes: bytes)
            let error = await expectStoreError(.tooLarge, serviceCode: S3Error.responseTooLargeCode) {
                _ = try await store.get(StoreTest.name(1), maxBytes: 1 << 20)
            }
            let transportError = (error?.underlying as? S3Error)?.underlying as? TransportError
            #expect(transportError?.kind == .responseTooLarge)
            #expect(transportError?.message.contains("declares \(3 << 20) bytes") == true, "\(String(describing: transportError))")
            #expect(try await store.get(StoreTest.name(1), maxBytes: 3 << 20) == bytes)
        }
    }

    /// The store keeps bytes, not checkpoints: a truncated file comes back as it was stored,
    /// for the reader to reject with the file's own checks.
    @Test func aTruncatedCheckpointIsStoredAndReturnedAsBytes() async throws {
        try await withCheckedSignatures { keys, bucket in
            let store = S3CheckpointStore(client: client(keys), bucket: bucket, prefix: "run")
            let truncated = Array(try CheckpointStoreContract.checkpointBytes(step: 3).dropLast(9))
            try await store.put(StoreTest.name(3), bytes: truncated)
            #expect(try await store.get(StoreTest.name(3), maxBytes: 1 << 20) == truncated)
        }
    }

    @Test func aWrongSecretAndAnUnknownKeyAreRefusedWithTheirCodesAndNoSecret() async throws {
        try await withCheckedSignatures { keys, bucket in
            let forged = AWSCredentials(accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey + "x")
            let wrongSecret = S3CheckpointStore(client: client(forged), bucket: bucket, prefix: "run")
            let refused = await expectStoreError(.refused, serviceCode: "SignatureDoesNotMatch") { try await wrongSecret.checkAccess() }
            let refusedPut = await expectStoreError(.refused, serviceCode: "SignatureDoesNotMatch") {
                try await wrongSecret.put(StoreTest.name(1), bytes: [1, 2, 3])
            }
            let unknownKey = S3CheckpointStore(client: client(AWSCredentials(accessKeyId: "AKIDUNKNOWN0000", secretAccessKey: "nope-nope")),
                                               bucket: bucket, prefix: "run")
            let unknown = await expectStoreError(.refused, serviceCode: "InvalidAccessKeyId") { _ = try await unknownKey.list() }
            for error in [refused, refusedPut, unknown] {
                #expect(error?.description.contains("s3://\(bucket)/run") == true, "\(String(describing: error))")
                // Computed first, so that a failure does not print the secret itself.
                let text = String(describing: error as Any) + String(reflecting: error as Any)
                let leaks = text.contains(keys.secretAccessKey) || text.contains(SigV4Signer.percentEncode(keys.secretAccessKey))
                #expect(!leaks, "a store error contains the secret key")
            }
        }
    }

    @Test func aMissingBucketIsRefusedWithNoSuchBucket() async throws {
        try await withCheckedSignatures { keys, _ in
            let missing = "spottrain-missing-\(UUID().uuidString.prefix(8).lowercased())"
            let store = S3CheckpointStore(client: client(keys), bucket: missing, prefix: "run")
            let error = await expectStoreError(.refused, serviceCode: "NoSuchBucket") { try await store.checkAccess() }
            #expect(error?.description.contains("s3://\(missing)/") == true, "\(String(describing: error))")
            await expectStoreError(.refused, serviceCode: "NoSuchBucket") { try await store.put(StoreTest.name(1), bytes: [1]) }
        }
    }

    /// A user who may read and list but not write is refused at the access check's test write.
    @Test func aReadOnlyUserIsRefusedAtTheTestWrite() async throws {
        try await withCheckedSignatures(policy: StoreMoto.readOnly) { keys, bucket in
            let store = S3CheckpointStore(client: client(keys), bucket: bucket, prefix: "run")
            let error = await expectStoreError(.refused, serviceCode: "AccessDenied") { try await store.checkAccess() }
            #expect(error?.message.contains("cannot write to the store") == true, "\(String(describing: error))")
        }
    }
}

/// Helpers for the store's auth server (`SPOTTRAIN_MOTO_STORE_AUTH_ENDPOINT`).
enum StoreMoto {
    /// The endpoint, when it is set and on the loopback interface.
    static var endpoint: URL? {
        guard let text = ProcessInfo.processInfo.environment["SPOTTRAIN_MOTO_STORE_AUTH_ENDPOINT"], let url = URL(string: text),
              let host = url.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else { return nil }
        return url
    }

    static let allowAll = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
    static let readOnly = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends a signed IAM Query request (checking must be off) and returns the body.
    static func iam(_ parameters: [(String, String)], _ endpoint: URL) async throws -> String {
        let body = ([("Version", "2010-05-08")] + parameters)
            .map { SigV4Signer.percentEncode($0.0) + "=" + SigV4Signer.percentEncode($0.1) }
            .joined(separator: "&")
        let request = HTTPRequest(method: "POST", url: endpoint,
                                  headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8"],
                                  body: Data(body.utf8))
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyId: "AKIDBOOTSTRAP", secretAccessKey: "bootstrap"),
                                 region: "us-east-1", service: "iam")
        let response = try await AsyncHTTPClientTransport.aws().send(signer.sign(request, date: Date()))
        guard response.status == 200 else {
            throw Failure(description: "IAM \(parameters.first?.1 ?? "?") failed: HTTP \(response.status)")
        }
        return String(decoding: response.body, as: UTF8.self)
    }

    static func element(_ name: String, in xml: String) throws -> String {
        guard let start = xml.range(of: "<\(name)>"),
              let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else {
            throw Failure(description: "no <\(name)> in IAM response")
        }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    /// A new IAM user with `policy` inline, and its access key.
    static func createUserKeys(_ endpoint: URL, policy: String) async throws -> AWSCredentials {
        let user = "spottrain-store-\(UUID().uuidString.prefix(8))"
        _ = try await iam([("Action", "CreateUser"), ("UserName", user)], endpoint)
        _ = try await iam([("Action", "PutUserPolicy"), ("UserName", user), ("PolicyName", "store"),
                           ("PolicyDocument", policy)], endpoint)
        let keyXML = try await iam([("Action", "CreateAccessKey"), ("UserName", user)], endpoint)
        return AWSCredentials(accessKeyId: try element("AccessKeyId", in: keyXML),
                              secretAccessKey: try element("SecretAccessKey", in: keyXML))
    }

    /// Switches signature checking on (`"0"`: after zero unchecked requests) or off (`"inf"`).
    static func setAuth(_ count: String, _ endpoint: URL) async throws {
        let request = HTTPRequest(method: "POST", url: endpoint.appendingPathComponent("moto-api/reset-auth"),
                                  headers: ["content-type": "text/plain"], body: Data(count.utf8))
        let response = try await AsyncHTTPClientTransport.aws().send(request)
        guard response.status == 200 else { throw Failure(description: "reset-auth \(count) failed: \(response.status)") }
    }
}
