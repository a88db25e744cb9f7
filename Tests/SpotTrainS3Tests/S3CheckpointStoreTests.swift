import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3
import Testing

/// The store's requests and its error mapping, against a scripted transport.
@Suite struct S3CheckpointStoreTests {
    // MARK: - Requests

    @Test func checkAccessListsWritesAndDeletesOneProbe() async throws {
        let transport = StoreScriptedTransport { request in
            switch request.method {
            case "GET": return StoreTest.listing([])
            case "PUT": return StoreTest.putAnswer(request)
            default: return HTTPResponse(status: 204)
            }
        }
        try await StoreTest.store(transport, prefix: "team/run").checkAccess()
        let lines = transport.lines
        #expect(lines.count == 3)
        #expect(lines.first == "GET /ckpt-bucket/?list-type=2&prefix=team%2Frun%2Fckpt-&max-keys=1")
        let put = try #require(transport.requests.dropFirst().first)
        #expect(put.method == "PUT")
        #expect(put.url.path.hasPrefix("/ckpt-bucket/team/run/.spottrain-store-check-"))
        #expect(put.headers["content-md5"] != nil)
        #expect(transport.requests.last?.method == "DELETE")
        #expect(transport.requests.last?.url == put.url, "the probe it wrote is the one it deletes")
    }

    @Test func checkAccessRefusesAMissingBucketAndAWrongSecretWithTheirCodes() async {
        for (status, code) in [(404, "NoSuchBucket"), (403, "SignatureDoesNotMatch"), (403, "InvalidAccessKeyId"),
                               (403, "AccessDenied"), (301, "PermanentRedirect")] {
            let transport = StoreScriptedTransport { _ in StoreTest.error(status, code: code) }
            let error = await expectStoreError(.refused, serviceCode: code) {
                try await StoreTest.store(transport).checkAccess()
            }
            #expect(transport.requests.count == 1, "\(code) is not retried")
            #expect((error?.underlying as? S3Error)?.code == code)
            #expect(error?.description.contains("s3://ckpt-bucket/run/ckpt-") == true, "\(String(describing: error))")
        }
        // Listing is allowed but writing is not: refused at the test write.
        let readOnly = StoreScriptedTransport { request in
            request.method == "GET" ? StoreTest.listing([]) : StoreTest.error(403, code: "AccessDenied")
        }
        let error = await expectStoreError(.refused, serviceCode: "AccessDenied") {
            try await StoreTest.store(readOnly).checkAccess()
        }
        #expect(error?.message.contains("cannot write to the store") == true)
    }

    @Test func listKeepsOnlyCheckpointNamesDirectlyUnderThePrefixAcrossPages() async throws {
        let transport = StoreScriptedTransport { request in
            #expect(request.queryItems["prefix"] == "run/ckpt-")
            if request.queryItems["continuation-token"] == nil {
                return StoreTest.listing([("run/ckpt-000000000200.spt", 200), ("run/ckpt-000000000200.spt.tmp", 1),
                                          ("run/ckpt-12.spt", 3)], next: "page2")
            }
            return StoreTest.listing([("run/ckpt-000000000100.spt", 100), ("run/ckpt-000000000300.spt/x", 5),
                                      ("run/ckpt-0000000003OO.spt", 7)])
        }
        let listed = try await StoreTest.store(transport).list()
        #expect(listed == [
            StoredCheckpoint(name: StoreTest.name(100), globalStep: 100, size: 100,
                             location: "s3://ckpt-bucket/run/ckpt-000000000100.spt"),
            StoredCheckpoint(name: StoreTest.name(200), globalStep: 200, size: 200,
                             location: "s3://ckpt-bucket/run/ckpt-000000000200.spt"),
        ])
        #expect(transport.requests.count == 2)
    }

    @Test func listAtTheBucketRootUsesTheNamePrefixAlone() async throws {
        let transport = StoreScriptedTransport { request in
            #expect(request.queryItems["prefix"] == "ckpt-")
            return StoreTest.listing([("ckpt-000000000007.spt", 9)])
        }
        let listed = try await StoreTest.store(transport, prefix: "").list()
        #expect(listed.map(\.name) == [StoreTest.name(7)])
        #expect(listed.first?.location == "s3://ckpt-bucket/ckpt-000000000007.spt")
    }

    @Test func putUploadsTheBytesUnderPrefixSlashNameWithContentMD5() async throws {
        let bytes = StoreTest.bytes(1000)
        let transport = StoreScriptedTransport { request in
            #expect(request.body == Data(bytes))
            return StoreTest.putAnswer(request)
        }
        let stored = try await StoreTest.store(transport).put(StoreTest.name(42), bytes: bytes)
        #expect(stored == StoredCheckpoint(name: StoreTest.name(42), globalStep: 42, size: 1000,
                                           location: "s3://ckpt-bucket/run/ckpt-000000000042.spt"))
        #expect(transport.lines == ["PUT /ckpt-bucket/run/ckpt-000000000042.spt"])
        #expect(transport.requests.first?.headers["content-md5"] != nil)
    }

    @Test func putReportsAnETagThatIsNotWhatWasSentAsCorrupt() async {
        let transport = StoreScriptedTransport { _ in
            HTTPResponse(status: 200, headers: ["ETag": "\"900150983cd24fb0d6963f7d28e17f72\""])
        }
        await expectStoreError(.corrupt, serviceCode: S3Error.checksumMismatchCode) {
            try await StoreTest.store(transport).put(StoreTest.name(1), bytes: [1, 2, 3, 4])
        }
        let badDigest = StoreScriptedTransport { _ in StoreTest.error(400, code: "BadDigest") }
        await expectStoreError(.corrupt, serviceCode: "BadDigest") {
            try await StoreTest.store(badDigest).put(StoreTest.name(1), bytes: [1, 2, 3, 4])
        }
    }

    // MARK: - Bounded reads

    @Test func getAsksTheTransportForAtMostMaxBytes() async throws {
        let bytes = StoreTest.bytes(64)
        let transport = StoreScriptedTransport { _ in HTTPResponse(status: 200, body: Data(bytes)) }
        let read = try await StoreTest.store(transport).get(StoreTest.name(5), maxBytes: 64)
        #expect(read == bytes)
        #expect(transport.requests.first?.maximumResponseBytes == 64)
        #expect(transport.lines == ["GET /ckpt-bucket/run/ckpt-000000000005.spt"])
    }

    /// The transport stops reading at the limit (`responseTooLarge`); the store says
    /// `tooLarge` after that one request: asking again would fetch the same object.
    @Test func getOfAnObjectOverMaxBytesIsTooLargeAndNotRetried() async {
        let transport = StoreScriptedTransport { request in
            throw TransportError(.responseTooLarge,
                                 "response body from 127.0.0.1:9000 declares 1000 bytes, more than the limit of \(request.maximumResponseBytes ?? -1) bytes")
        }
        let error = await expectStoreError(.tooLarge, serviceCode: S3Error.responseTooLargeCode) {
            _ = try await StoreTest.store(transport).get(StoreTest.name(5), maxBytes: 999)
        }
        #expect(transport.requests.count == 1)
        #expect(error?.location == "s3://ckpt-bucket/run/ckpt-000000000005.spt")
        #expect(error?.message.contains("999") == true)

        // A transport that ignores the limit: the client still refuses more than maxBytes.
        let unbounded = StoreScriptedTransport { _ in HTTPResponse(status: 200, body: Data(StoreTest.bytes(1000))) }
        await expectStoreError(.tooLarge) { _ = try await StoreTest.store(unbounded).get(StoreTest.name(5), maxBytes: 999) }
    }

    @Test func getOfAMissingObjectIsNotFoundAndOfBytesThatDoNotMatchTheirETagIsCorrupt() async {
        let missing = StoreScriptedTransport { _ in StoreTest.error(404, code: "NoSuchKey") }
        await expectStoreError(.notFound, serviceCode: "NoSuchKey") {
            _ = try await StoreTest.store(missing).get(StoreTest.name(5), maxBytes: 100)
        }
        #expect(missing.requests.count == 1)
        let flipped = StoreScriptedTransport { _ in
            // The MD5 of "abc", but other bytes arrive.
            HTTPResponse(status: 200, headers: ["ETag": "\"900150983cd24fb0d6963f7d28e17f72\""], body: Data("abd".utf8))
        }
        await expectStoreError(.corrupt, serviceCode: S3Error.checksumMismatchCode) {
            _ = try await StoreTest.store(flipped).get(StoreTest.name(5), maxBytes: 100)
        }
    }

    // MARK: - Delete, set aside, clean up

    @Test func deleteSendsOneDeleteObjectsAndReportsKeysThatFailed() async throws {
        let transport = StoreScriptedTransport { request in
            let body = String(decoding: request.body, as: UTF8.self)
            #expect(body.contains("<Key>run/ckpt-000000000001.spt</Key>"))
            #expect(body.contains("<Key>run/ckpt-000000000002.spt</Key>"))
            return StoreTest.xml("<DeleteResult/>")
        }
        try await StoreTest.store(transport).delete([StoreTest.name(1), StoreTest.name(2)])
        #expect(transport.lines == ["POST /ckpt-bucket/?delete"])
        try await StoreTest.store(transport).delete([])
        #expect(transport.requests.count == 1, "nothing to delete sends nothing")

        let partly = StoreScriptedTransport { _ in
            StoreTest.xml("<DeleteResult><Error><Key>run/ckpt-000000000002.spt</Key><Code>AccessDenied</Code>"
                          + "<Message>Access Denied</Message></Error></DeleteResult>")
        }
        let error = await expectStoreError(.refused, serviceCode: "AccessDenied") {
            try await StoreTest.store(partly).delete([StoreTest.name(1), StoreTest.name(2)])
        }
        #expect(error?.location == "s3://ckpt-bucket/run/ckpt-000000000002.spt")
        let transient = StoreScriptedTransport { _ in
            StoreTest.xml("<DeleteResult><Error><Key>run/ckpt-000000000002.spt</Key><Code>InternalError</Code>"
                          + "<Message>try again</Message></Error></DeleteResult>")
        }
        await expectStoreError(.unavailable, serviceCode: "InternalError") {
            try await StoreTest.store(transient).delete([StoreTest.name(2)])
        }
    }

    @Test func setAsideCopiesEveryObjectBeforeDeletingTheOriginals() async throws {
        let transport = StoreScriptedTransport { request in
            if request.method == "PUT" { return StoreTest.xml(#"<CopyObjectResult><ETag>"abc"</ETag></CopyObjectResult>"#) }
            return StoreTest.xml("<DeleteResult/>")
        }
        try await StoreTest.store(transport, prefix: "a b/run").setAside([StoreTest.name(1), StoreTest.name(2)],
                                                                         into: "replaced-20261129T153000Z")
        #expect(transport.lines == [
            "PUT /ckpt-bucket/a%20b/run/replaced-20261129T153000Z/ckpt-000000000001.spt",
            "PUT /ckpt-bucket/a%20b/run/replaced-20261129T153000Z/ckpt-000000000002.spt",
            "POST /ckpt-bucket/?delete",
        ])
        #expect(transport.requests[0].headers["x-amz-copy-source"] == "/ckpt-bucket/a%20b/run/ckpt-000000000001.spt")
        let deleted = String(decoding: transport.requests[2].body, as: UTF8.self)
        #expect(deleted.contains("<Key>a b/run/ckpt-000000000001.spt</Key>") && deleted.contains("<Key>a b/run/ckpt-000000000002.spt</Key>"))
    }

    @Test func aFailedCopyLeavesEveryOriginalInPlace() async {
        let calls = CallCounter()
        let transport = StoreScriptedTransport { request in
            if request.method == "PUT" {
                return calls.next() == 1 ? StoreTest.xml(#"<CopyObjectResult><ETag>"abc"</ETag></CopyObjectResult>"#)
                    : StoreTest.error(404, code: "NoSuchKey")
            }
            Issue.record("nothing may be deleted after a failed copy: \(StoreScriptedTransport.line(request))")
            return StoreTest.xml("<DeleteResult/>")
        }
        let error = await expectStoreError(.notFound, serviceCode: "NoSuchKey") {
            try await StoreTest.store(transport).setAside([StoreTest.name(1), StoreTest.name(2)], into: "replaced-1")
        }
        #expect(error?.location == "s3://ckpt-bucket/run/ckpt-000000000002.spt")
        #expect(error?.message.contains("nothing was removed") == true)
        #expect(transport.requests.count == 2)
    }

    @Test func discardIncompleteUploadsAbortsOnlyOldUploadsOfCheckpointNamesUnderThePrefix() async throws {
        let formatter = ISO8601DateFormatter()
        let old = formatter.string(from: Date().addingTimeInterval(-7200))
        let young = formatter.string(from: Date().addingTimeInterval(-60))
        let transport = StoreScriptedTransport { request in
            if request.method == "GET" {
                #expect(request.queryItems["prefix"] == "run/ckpt-")
                return StoreTest.xml("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                                     + "<Upload><Key>run/ckpt-000000000009.spt</Key><UploadId>U1</UploadId><Initiated>\(old)</Initiated></Upload>"
                                     + "<Upload><Key>run/ckpt-000000000010.spt</Key><UploadId>U2</UploadId><Initiated>\(old)</Initiated></Upload>"
                                     + "<Upload><Key>run/ckpt-000000000011.spt</Key><UploadId>U3</UploadId><Initiated>\(young)</Initiated></Upload>"
                                     + "</ListMultipartUploadsResult>")
            }
            return HTTPResponse(status: 204)
        }
        // The upload started a minute ago may belong to a writer that is still alive: spared.
        #expect(try await StoreTest.store(transport).discardIncompleteUploads() == 2)
        #expect(transport.lines == ["GET /ckpt-bucket/?uploads&prefix=run%2Fckpt-",
                                    "DELETE /ckpt-bucket/run/ckpt-000000000009.spt?uploadId=U1",
                                    "DELETE /ckpt-bucket/run/ckpt-000000000010.spt?uploadId=U2"])
    }

    // MARK: - Error classes

    @Test func transientFailuresAreUnavailableAfterTheClientsRetries() async {
        for response in [StoreTest.error(503, code: "SlowDown"), StoreTest.error(500, code: "InternalError"),
                         StoreTest.error(400, code: "RequestTimeout"), HTTPResponse(status: 502, body: Data("<html>bad gateway</html>".utf8))] {
            let transport = StoreScriptedTransport { _ in response }
            await expectStoreError(.unavailable) { try await StoreTest.store(transport).put(StoreTest.name(1), bytes: [1]) }
            #expect(transport.requests.count == 3, "the client retried first")
        }
        let dropped = StoreScriptedTransport { _ in throw TransportError(.connectionFailed, "connection reset") }
        await expectStoreError(.unavailable, serviceCode: S3Error.transportFailureCode) {
            _ = try await StoreTest.store(dropped).list()
        }
        #expect(dropped.requests.count == 3)
    }

    @Test(arguments: [
        (403, "AccessDenied", CheckpointStoreError.Code.refused), (403, "InvalidAccessKeyId", .refused),
        (403, "SignatureDoesNotMatch", .refused), (404, "NoSuchBucket", .refused), (400, "ExpiredToken", .unavailable),
        (403, "RequestTimeTooSkewed", .unavailable), (403, "RequestExpired", .unavailable),
        (301, "PermanentRedirect", .refused), (400, "InvalidRequest", .refused), (404, "NoSuchKey", .notFound),
        (400, "BadDigest", .corrupt), (400, "XAmzContentSHA256Mismatch", .corrupt), (200, "ChecksumMismatch", .corrupt),
        (0, "ResponseTooLarge", .tooLarge), (503, "SlowDown", .unavailable), (500, "InternalError", .unavailable),
        (400, "RequestTimeout", .unavailable), (409, "OperationAborted", .unavailable), (502, "HTTP502", .unavailable),
        (200, "MalformedResponse", .unavailable), (0, "NoCredentials", .refused), (0, "InvalidBucketName", .refused),
        (0, "InvalidKey", .refused),
    ])
    func s3ErrorsMapToTheStoreErrorClasses(status: Int, code: String, expected: CheckpointStoreError.Code) {
        let error = S3Error(status: status, code: code, message: "PutObject s3://b/k: m")
        #expect(S3CheckpointStore.storeErrorCode(for: error) == expected)
        let mapped = S3CheckpointStore.storeError(error, operation: "cannot upload x", location: "s3://b/k")
        #expect(mapped.code == expected)
        #expect(mapped.serviceCode == code)
        #expect((mapped.underlying as? S3Error)?.code == code)
        #expect(mapped.location == "s3://b/k")
        #expect(mapped.message.hasPrefix("cannot upload x: \(code) (HTTP \(status)): PutObject s3://b/k"))
    }

    @Test func missingCredentialsAreRefusedButAFailedCredentialsSourceMayPass() {
        // Nothing configured anywhere: no restart helps (exit 78).
        let none = S3Error(status: 0, code: S3Error.noCredentialsCode, message: "PutObject s3://b/k: no AWS credentials found")
        #expect(S3CheckpointStore.storeErrorCode(for: none) == .refused)
        // A source that failed (the instance role while IMDS starts, STS throttled): a restart may work (exit 1).
        struct SourceFailed: Error {}
        let failed = S3Error(status: 0, code: S3Error.noCredentialsCode, message: "PutObject s3://b/k: provider failed",
                             underlying: SourceFailed())
        #expect(S3CheckpointStore.storeErrorCode(for: failed) == .unavailable)
    }

    @Test func transportFailuresMapByKind() {
        func mapped(_ kind: TransportError.Kind) -> CheckpointStoreError.Code {
            S3CheckpointStore.storeErrorCode(for: S3Error(status: 0, code: S3Error.transportFailureCode, message: "m",
                                                          underlying: TransportError(kind, "x")))
        }
        #expect(mapped(.timedOut) == .unavailable)
        #expect(mapped(.connectionFailed) == .unavailable)
        #expect(mapped(.invalidResponse) == .unavailable)
        #expect(mapped(.responseTooLarge) == .tooLarge)
        #expect(mapped(.unsupportedRequest) == .refused)
        let other = S3CheckpointStore.storeError(CocoaLikeError(), operation: "cannot list", location: "s3://b/p")
        #expect(other.code == .unavailable)
        #expect(other.serviceCode == nil)
        let passed = CheckpointStoreError(.refused, "x", location: "s3://b/p")
        #expect(S3CheckpointStore.storeError(passed, operation: "y", location: "z").message == "x")
    }

    @Test func noSecretReachesTheStoreErrorEvenWhenTheServerEchoesIt() async {
        let secret = StoreTest.credentials.secretAccessKey
        let transport = StoreScriptedTransport { _ in
            StoreTest.error(403, code: "SignatureDoesNotMatch", message: "the key \(secret) is wrong")
        }
        let error = await expectStoreError(.refused, serviceCode: "SignatureDoesNotMatch") {
            try await StoreTest.store(transport).put(StoreTest.name(1), bytes: [1])
        }
        // Computed first, so that a failure does not print the secret itself.
        let text = String(describing: error as Any) + String(reflecting: error as Any)
        let leaks = text.contains(secret) || text.contains(SigV4Signer.percentEncode(secret))
        #expect(!leaks, "the store error contains the secret key")
    }

    @Test func cancellationIsRethrownAsSuch() async {
        let transport = StoreScriptedTransport { _ in throw CancellationError() }
        do {
            _ = try await StoreTest.store(transport).list()
            Issue.record("expected CancellationError")
        } catch {
            #expect(error is CancellationError, "\(error)")
        }
    }
}

/// An error that is neither an S3 nor a store error.
private struct CocoaLikeError: Error {}

/// A thread-safe counter for handlers that answer by call number.
final class CallCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}
