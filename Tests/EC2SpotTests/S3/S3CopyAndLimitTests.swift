import EC2Spot
import Foundation
import Testing

/// `getObject(maxBytes:)` and `copyObject`, which the checkpoint store builds on.
@Suite struct S3CopyAndLimitTests {
    // MARK: - Reads with a size limit

    @Test func getWithMaxBytesHandsTheLimitToTheTransport() async throws {
        let object = S3Test.bytes(100)
        let transport = S3ScriptedTransport { _ in
            HTTPResponse(status: 200, headers: ["ETag": "\"\(S3Test.md5Hex(object))\""], body: object)
        }
        let content = try await S3Test.client(transport).getObject(bucket: "bkt", key: "k", maxBytes: 100)
        #expect(content.body == object)
        #expect(transport.requests.first?.maximumResponseBytes == 100)
        _ = try await S3Test.client(transport).getObject(bucket: "bkt", key: "k")
        #expect(transport.requests.last?.maximumResponseBytes == nil)
    }

    /// A transport that ignores the request's limit still never gets more than `maxBytes`
    /// bytes past the client.
    @Test func getRefusesABodyOverMaxBytesEvenFromATransportWithoutALimit() async throws {
        let object = S3Test.bytes(101)
        let transport = S3ScriptedTransport { _ in
            HTTPResponse(status: 200, headers: ["ETag": "\"\(S3Test.md5Hex(object))\""], body: object)
        }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).getObject(bucket: "bkt", key: "k", maxBytes: 100)
        }
        #expect(error?.code == S3Error.responseTooLargeCode)
        #expect(error?.message.contains("limit of 100 bytes") == true, "\(String(describing: error))")
    }

    /// The transport's `responseTooLarge` becomes `ResponseTooLarge` and is not retried:
    /// asking again would only fetch the same oversized object.
    @Test func anOversizedResponseIsTypedAndNeverRetried() async throws {
        let transport = S3ScriptedTransport { _ in
            throw TransportError(.responseTooLarge, "response body from 127.0.0.1 declares 200 bytes, more than the limit of 100 bytes")
        }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).getObject(bucket: "bkt", key: "k", maxBytes: 100)
        }
        #expect(error?.code == S3Error.responseTooLargeCode)
        #expect((error?.underlying as? TransportError)?.kind == .responseTooLarge)
        #expect(transport.requests.count == 1)
        #expect(error?.isRetryable == false)
        let wrapped = S3Error(status: 0, code: S3Error.transportFailureCode, message: "m",
                              underlying: TransportError(.responseTooLarge, "big"))
        #expect(!wrapped.isRetryable)
        #expect(!RetryPolicy.standard.isRetryable(wrapped))
    }

    // MARK: - Copy

    @Test func copySendsTheSourceEncodedOnceWithItsSlashesKept() async throws {
        let transport = S3ScriptedTransport { _ in
            S3Test.xml(200, #"<CopyObjectResult><LastModified>2026-11-29T15:00:00.000Z</LastModified><ETag>"0123456789ABCDEF0123456789abcdef"</ETag></CopyObjectResult>"#)
        }
        let result = try await S3Test.client(transport).copyObject(bucket: "bkt", sourceKey: "run 1/ckpt+ü?.spt",
                                                                    destinationKey: "run 1/replaced-x/ckpt+ü?.spt")
        #expect(result.etag == "0123456789abcdef0123456789abcdef")
        let request = try #require(transport.requests.first)
        #expect(S3ScriptedTransport.line(request) == "PUT /bkt/run%201/replaced-x/ckpt%2B%C3%BC%3F.spt")
        #expect(request.headers["x-amz-copy-source"] == "/bkt/run%201/ckpt%2B%C3%BC%3F.spt")
        #expect(request.body.isEmpty)
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.contains("x-amz-copy-source"), "the copy source is signed")
    }

    /// S3 can accept a copy with 200 and fail it later in the body; that is an error, retried
    /// when its code is transient.
    @Test func aCopyThatFailsInsideA200IsAnErrorAndRetriedWhenTransient() async throws {
        let calls = Counter()
        let transport = S3ScriptedTransport { _ in
            if calls.next() == 1 {
                return S3Test.xml(200, "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")
            }
            return S3Test.xml(200, #"<CopyObjectResult><ETag>"abc"</ETag></CopyObjectResult>"#)
        }
        let result = try await S3Test.client(transport).copyObject(bucket: "bkt", sourceKey: "a/k", destinationKey: "a/f/k")
        #expect(result.etag == "abc")
        #expect(transport.requests.count == 2)

        let refusing = S3ScriptedTransport { _ in
            S3Test.xml(200, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
        }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(refusing).copyObject(bucket: "bkt", sourceKey: "a/k", destinationKey: "a/f/k")
        }
        #expect(error?.code == "AccessDenied")
        #expect(refusing.requests.count == 1)

        let noETag = S3ScriptedTransport { _ in S3Test.xml(200, "<CopyObjectResult></CopyObjectResult>") }
        let malformed = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(noETag).copyObject(bucket: "bkt", sourceKey: "a/k", destinationKey: "a/f/k")
        }
        #expect(malformed?.code == S3Error.malformedResponseCode)
    }

    @Test func copyRefusesASourceKeyWithDotSegmentsBeforeSending() async throws {
        let transport = S3ScriptedTransport { _ in S3Test.xml(200, "<CopyObjectResult><ETag>x</ETag></CopyObjectResult>") }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport).copyObject(bucket: "bkt", sourceKey: "a/../secret", destinationKey: "a/k")
        }
        #expect(error?.code == S3Error.invalidKeyCode)
        #expect(transport.requests.isEmpty)
    }
}
