import EC2Spot
import Foundation
import Testing

@Suite struct S3ClientTests {
    // MARK: - Addressing and signing

    @Test func putUsesPathStyleOnACustomEndpointAndSignsForS3() async throws {
        let body = Data("checkpoint".utf8)
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 200, headers: ["ETag": "\"\(S3Test.md5Hex(body))\""]) }
        let result = try await S3Test.client(transport).putObject(body, bucket: "ckpt-bucket", key: "run/ckpt 1+ü.spt")
        let request = try #require(transport.requests.first)
        #expect(S3ScriptedTransport.line(request) == "PUT /ckpt-bucket/run/ckpt%201%2B%C3%BC.spt")
        #expect(request.url.host == "127.0.0.1")
        #expect(request.headers["host"] == "127.0.0.1:9000")
        #expect(request.headers["content-md5"] == S3Test.md5Base64(body))
        #expect(request.headers["x-amz-content-sha256"] == "47320987f9a49d5b00119b960f247a956773f57543982b8bfcb6da5bb3afd9ef")
        #expect(request.headers["x-amz-security-token"] == S3Test.credentials.sessionToken)
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.contains("/us-east-1/s3/aws4_request"))
        #expect(authorization.contains("content-md5;"))
        #expect(authorization.contains("x-amz-content-sha256"))
        #expect(result == S3PutResult(etag: S3Test.md5Hex(body), versionId: nil, partCount: 1))
    }

    @Test func awsEndpointUsesVirtualHostedAddressing() async throws {
        let transport = S3ScriptedTransport { _ in S3Test.xml(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>") }
        let client = S3Test.client(transport, endpoint: nil, region: "eu-west-1")
        _ = try await client.listObjects(bucket: "ckpt-bucket", prefix: "run/")
        let request = try #require(transport.requests.first)
        #expect(request.url.scheme == "https")
        #expect(request.url.host == "ckpt-bucket.s3.eu-west-1.amazonaws.com")
        #expect(S3ScriptedTransport.line(request) == "GET /?list-type=2&prefix=run%2F&max-keys=1000")
        #expect(request.headers["authorization"]?.contains("/eu-west-1/s3/aws4_request") == true)
    }

    @Test func dottedBucketOverHTTPSFallsBackToPathStyle() async throws {
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 204) }
        let client = S3Test.client(transport, endpoint: nil, region: "us-east-2")
        try await client.deleteObject(bucket: "my.dotted.bucket", key: "k")
        let request = try #require(transport.requests.first)
        #expect(request.url.host == "s3.us-east-2.amazonaws.com")
        #expect(S3ScriptedTransport.line(request) == "DELETE /my.dotted.bucket/k")
    }

    @Test func explicitPathStyleKeepsTrailingSlashAndEmptySegments() async throws {
        let transport = S3ScriptedTransport { request in
            HTTPResponse(status: 200, headers: ["etag": S3Test.md5Hex(request.body)])
        }
        let client = S3Test.client(transport, endpoint: URL(string: "https://minio.example:9443/base/"), addressing: .path)
        _ = try await client.putObject(Data(), bucket: "bkt", key: "run//dir/")
        #expect(transport.lines == ["PUT /base/bkt/run//dir/"])
        #expect(transport.requests.first?.headers["host"] == "minio.example:9443")
    }

    @Test func invalidBucketsAndKeysAreRefusedBeforeAnythingIsSent() async throws {
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 200) }
        let client = S3Test.client(transport)
        for bucket in ["ab", "Upper", "bad_underscore", "-dash", "a..b", "192.168.0.1", "evil.com/x", String(repeating: "a", count: 64)] {
            let error = await #expect(throws: S3Error.self) { try await client.deleteObject(bucket: bucket, key: "k") }
            #expect(error?.code == S3Error.invalidBucketNameCode, "\(bucket)")
        }
        for key in ["", "a/../b", "./x", "x/.", "line\nbreak", String(repeating: "k", count: 1025)] {
            let error = await #expect(throws: S3Error.self) { _ = try await client.putObject(Data(), bucket: "bkt", key: key) }
            #expect(error?.code == S3Error.invalidKeyCode)
        }
        #expect(transport.requests.isEmpty)
    }

    // MARK: - Verification

    @Test func putObjectRefusesAnETagThatIsNotTheBodysMD5() async throws {
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 200, headers: ["ETag": "\"\(S3Test.md5Hex(Data("other".utf8)))\""]) }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).putObject(Data("mine".utf8), bucket: "bkt", key: "k")
        }
        #expect(error?.code == S3Error.checksumMismatchCode)
        #expect(error?.message.contains("s3://bkt/k") == true)
        #expect(transport.requests.count == 1)
    }

    @Test func putObjectWithoutAnETagIsNotReportedAsVerified() async throws {
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 200) }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).putObject(Data("mine".utf8), bucket: "bkt", key: "k")
        }
        #expect(error?.code == S3Error.checksumMismatchCode)
    }

    @Test func kmsETagsAreNotComparedWithMD5() async throws {
        let transport = S3ScriptedTransport { _ in
            HTTPResponse(status: 200, headers: ["ETag": "\"0123456789abcdef0123456789abcdef\"",
                                                "x-amz-server-side-encryption": "aws:kms"])
        }
        let result = try await S3Test.client(transport).putObject(Data("mine".utf8), bucket: "bkt", key: "k")
        #expect(result.etag == "0123456789abcdef0123456789abcdef")
    }

    @Test func fullGetRefusesBytesThatDoNotMatchTheETag() async throws {
        let transport = S3ScriptedTransport { _ in
            HTTPResponse(status: 200, headers: ["ETag": "\"\(S3Test.md5Hex(Data("stored".utf8)))\""], body: Data("flipped".utf8))
        }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).getObject(bucket: "bkt", key: "k")
        }
        #expect(error?.code == S3Error.checksumMismatchCode)
    }

    @Test func rangedGetSendsARangeAndChecksTheContentRange() async throws {
        let object = S3Test.bytes(100)
        let transport = S3ScriptedTransport { request in
            #expect(request.headers["range"] == "bytes=10-19")
            return HTTPResponse(status: 206, headers: ["Content-Range": "bytes 10-19/100", "ETag": "\"abc-2\""],
                                body: object.subdata(in: 10..<20))
        }
        let content = try await S3Test.client(transport).getObject(bucket: "bkt", key: "k", range: 10...19)
        #expect(content.body == object.subdata(in: 10..<20))
        #expect(content.offset == 10)
        #expect(content.objectSize == 100)
        #expect(content.etag == "abc-2")

        let wrongStart = S3ScriptedTransport { _ in
            HTTPResponse(status: 206, headers: ["Content-Range": "bytes 0-9/100"], body: object.subdata(in: 0..<10))
        }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(wrongStart).getObject(bucket: "bkt", key: "k", range: 10...19)
        }
        #expect(error?.code == S3Error.malformedResponseCode)
    }

    // MARK: - Listing and deleting

    @Test func listObjectsFollowsContinuationTokens() async throws {
        let transport = S3ScriptedTransport { request in
            switch request.queryItems["continuation-token"] {
            case nil:
                return S3Test.xml(200, """
                    <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>
                    <Contents><Key>run/a</Key><Size>3</Size><ETag>&quot;aa&quot;</ETag><LastModified>2026-11-29T12:00:00.000Z</LastModified></Contents>
                    <NextContinuationToken>tok/1+=</NextContinuationToken></ListBucketResult>
                    """)
            case "tok/1+=":
                return S3Test.xml(200, """
                    <ListBucketResult><IsTruncated>false</IsTruncated>
                    <Contents><Key>run/b &amp; c</Key><Size>5</Size></Contents></ListBucketResult>
                    """)
            default:
                return S3Test.error(400, code: "InvalidArgument")
            }
        }
        let objects = try await S3Test.client(transport).listObjects(bucket: "bkt", prefix: "run/")
        #expect(objects.map(\.key) == ["run/a", "run/b & c"])
        #expect(objects.map(\.size) == [3, 5])
        #expect(objects.first?.etag == "aa")
        #expect(objects.first?.lastModified == Date(timeIntervalSince1970: 1_795_953_600))
        #expect(transport.lines == ["GET /bkt/?list-type=2&prefix=run%2F&max-keys=1000",
                                    "GET /bkt/?list-type=2&prefix=run%2F&continuation-token=tok%2F1%2B%3D&max-keys=1000"])
    }

    @Test func listObjectsStopsOnARepeatedContinuationToken() async throws {
        let transport = S3ScriptedTransport { _ in
            S3Test.xml(200, "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken></ListBucketResult>")
        }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).listObjects(bucket: "bkt", prefix: "run/")
        }
        #expect(error?.code == S3Error.malformedResponseCode)
        #expect(transport.requests.count == 2)
    }

    @Test func deleteObjectsSendsEscapedXMLWithContentMD5InBatchesOf1000() async throws {
        let keys = ["run/a & <b>"] + (1...1000).map { "run/k\($0)" }
        let transport = S3ScriptedTransport { request in
            #expect(request.queryItems.keys.contains("delete"))
            #expect(request.headers["content-md5"] == S3Test.md5Base64(request.body))
            let text = String(decoding: request.body, as: UTF8.self)
            if text.contains("run/a &amp; &lt;b&gt;") {
                return S3Test.xml(200, "<DeleteResult><Error><Key>run/a &amp; &lt;b&gt;</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>")
            }
            return S3Test.xml(200, "<DeleteResult/>")
        }
        let failures = try await S3Test.client(transport).deleteObjects(keys, bucket: "bkt")
        #expect(failures == [S3DeleteFailure(key: "run/a & <b>", code: "AccessDenied", message: "no")])
        #expect(transport.lines == ["POST /bkt/?delete", "POST /bkt/?delete"])
        let first = String(decoding: transport.requests[0].body, as: UTF8.self)
        #expect(first.components(separatedBy: "<Object>").count - 1 == 1000)
        #expect(first.contains("<Quiet>true</Quiet>"))
    }

    // MARK: - Errors and retries

    @Test func errorResponsesDecodeCodeStatusAndRequestId() async throws {
        let transport = S3ScriptedTransport { _ in S3Test.error(404, code: "NoSuchKey", message: "The specified key does not exist.") }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).getObject(bucket: "bkt", key: "run/missing")
        }
        #expect(error?.code == "NoSuchKey")
        #expect(error?.status == 404)
        #expect(error?.requestId == "REQ123")
        #expect(error?.message == "GetObject s3://bkt/run/missing: The specified key does not exist.")
        #expect(transport.requests.count == 1)
    }

    @Test func throttlingAndServerErrorsAreRetriedWithBackoff() async throws {
        let counter = Counter()
        let transport = S3ScriptedTransport { _ in
            switch counter.next() {
            case 1: return S3Test.error(503, code: "SlowDown")
            case 2: return S3Test.error(400, code: "RequestTimeout")
            default: return HTTPResponse(status: 204)
            }
        }
        let clock = EC2TestClock()
        try await S3Test.client(transport, clock: clock).deleteObject(bucket: "bkt", key: "k")
        #expect(transport.requests.count == 3)
        #expect(clock.sleeps == [.milliseconds(500), .seconds(1)])
        // Each attempt is signed afresh.
        #expect(transport.requests.first?.headers["x-amz-date"] != transport.requests.last?.headers["x-amz-date"])
    }

    @Test func clientErrorsAreNotRetriedAndRetriesStopAtMaxAttempts() async throws {
        let denied = S3ScriptedTransport { _ in S3Test.error(403, code: "AccessDenied") }
        _ = await #expect(throws: S3Error.self) { try await S3Test.client(denied).deleteObject(bucket: "bkt", key: "k") }
        #expect(denied.requests.count == 1)

        let failing = S3ScriptedTransport { _ in S3Test.error(500, code: "InternalError") }
        let error = await #expect(throws: S3Error.self) { try await S3Test.client(failing).deleteObject(bucket: "bkt", key: "k") }
        #expect(error?.code == "InternalError")
        #expect(failing.requests.count == 3)
    }

    @Test func transportFailuresAreWrappedRetriedAndTyped() async throws {
        let transport = S3ScriptedTransport { _ in throw TransportError(.connectionFailed, "connection reset") }
        let error = await #expect(throws: S3Error.self) { try await S3Test.client(transport).deleteObject(bucket: "bkt", key: "k") }
        #expect(error?.code == S3Error.transportFailureCode)
        #expect(error?.status == 0)
        #expect((error?.underlying as? TransportError)?.kind == .connectionFailed)
        #expect(transport.requests.count == 3)
    }

    @Test func noSecretAppearsInErrorsEvenWhenTheServerEchoesIt() async throws {
        let secret = S3Test.credentials.secretAccessKey
        let token = try #require(S3Test.credentials.sessionToken)
        let echo = S3ScriptedTransport { request in
            HTTPResponse(status: 403, body: Data("<html>bad request: secret=\(secret) token=\(SigV4Signer.percentEncode(token)) \(request.headers)</html>".utf8))
        }
        let error = await #expect(throws: S3Error.self) { try await S3Test.client(echo).deleteObject(bucket: "bkt", key: "k") }
        let codedError = await #expect(throws: S3Error.self) {
            try await S3Test.client(S3ScriptedTransport { _ in
                S3Test.error(403, code: "SignatureDoesNotMatch", message: "expected key \(secret) token \(token)")
            }).deleteObject(bucket: "bkt", key: "k")
        }
        let transportError = await #expect(throws: S3Error.self) {
            try await S3Test.client(S3ScriptedTransport { _ in throw TransportError(.invalidResponse, "got \(secret)") })
                .deleteObject(bucket: "bkt", key: "k")
        }
        for text in [error, codedError, transportError].map({ String(describing: $0 as Any) }) {
            // Computed first, so that a failure does not print the secret itself.
            let leaks = [secret, token, SigV4Signer.percentEncode(secret), SigV4Signer.percentEncode(token)]
                .contains { text.contains($0) }
            #expect(!leaks, "an S3Error description contains a secret")
            #expect(text.contains("[REDACTED]"))
        }
        #expect(codedError?.code == "SignatureDoesNotMatch")
    }
}

/// A thread-safe counter for handlers that answer by call number.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

@Suite struct S3RetryPolicyTests {
    @Test func theStandardPolicyRetriesS3ThrottlingTransientAndServerErrorsOnly() {
        let policy = RetryPolicy.standard
        func error(_ status: Int, _ code: String) -> S3Error { S3Error(status: status, code: code, message: "m") }
        for retryable in [error(503, "SlowDown"), error(500, "InternalError"), error(503, "ServiceUnavailable"),
                          error(400, "RequestTimeout"), error(502, "HTTP502"),
                          S3Error(status: 0, code: S3Error.transportFailureCode, message: "m",
                                  underlying: TransportError(.timedOut, "slow"))] {
            #expect(policy.isRetryable(retryable), "\(retryable.code)")
        }
        for final in [error(403, "AccessDenied"), error(404, "NoSuchKey"), error(403, "SignatureDoesNotMatch"),
                      error(400, "BadDigest"), error(200, S3Error.checksumMismatchCode), error(200, S3Error.malformedResponseCode),
                      S3Error(status: 0, code: S3Error.transportFailureCode, message: "m",
                              underlying: TransportError(.unsupportedRequest, "no"))] {
            #expect(!policy.isRetryable(final), "\(final.code)")
        }
    }
}

@Suite struct S3KeyHandlingTests {
    @Test func deleteObjectsChecksEveryKeyBeforeTheFirstBatchAndAllowsDotSegments() async throws {
        let transport = S3ScriptedTransport { _ in S3Test.xml(200, "<DeleteResult/>") }
        let client = S3Test.client(transport)
        let keys = (1...1500).map { "run/k\($0)" } + ["bad\u{1}key"]
        let error = await #expect(throws: S3Error.self) { _ = try await client.deleteObjects(keys, bucket: "bkt") }
        #expect(error?.code == S3Error.invalidKeyCode)
        #expect(transport.requests.isEmpty)

        // In an XML document a '.' segment is just text: such keys (written by other tools) can go.
        #expect(try await client.deleteObjects(["run/./odd", "run/../odd"], bucket: "bkt").isEmpty)
        #expect(String(decoding: try #require(transport.requests.first).body, as: UTF8.self).contains("<Key>run/../odd</Key>"))
    }

    @Test func aServerThatIgnoresTheRangeIsCutToTheRangeAskedFor() async throws {
        let object = S3Test.bytes(50)
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 200, body: object) }
        let client = S3Test.client(transport)
        let content = try await client.getObject(bucket: "bkt", key: "k", range: 40...99)
        #expect(content.body == object.subdata(in: 40..<50))
        #expect(content.offset == 40)
        #expect(content.objectSize == 50)
    }
}
