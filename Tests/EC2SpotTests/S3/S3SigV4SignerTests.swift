import EC2Spot
import Foundation
import Testing

/// Known answers from botocore's `S3SigV4Auth` (and one plain `SigV4Auth` case), produced by
/// `Scripts/s3_sigv4_vectors.py`: S3 signs the path once-encoded exactly as sent, keeps
/// empty segments and a trailing `/`, signs a canonically encoded query (`prefix=run%2F`),
/// and every other service double-encodes the path.
struct S3SigV4Vector: Decodable, CustomTestStringConvertible, Sendable {
    var name: String
    var method: String
    var url: String
    var region: String
    var service: String
    var amzDate: String
    var accessKeyId: String
    var secretAccessKey: String
    var sessionToken: String?
    var headers: [String: String]
    var bodyBase64: String
    var signContentSHA256: Bool
    var contentSHA256: String?
    var canonicalRequest: String
    var stringToSign: String
    var authorization: String

    var testDescription: String { name }

    static func all() throws -> [S3SigV4Vector] {
        struct File: Decodable { var vectors: [S3SigV4Vector] }
        return try EC2Fixtures.load("s3_sigv4_vectors.json", as: File.self).vectors
    }

    /// The vector's `amzDate` as a `Date`.
    var date: Date { EC2Fixtures.date(amzDate: amzDate) }

    var request: HTTPRequest {
        HTTPRequest(method: method, url: URL(string: url)!, headers: headers,
                    body: Data(base64Encoded: bodyBase64)!)
    }

    var signer: SigV4Signer {
        SigV4Signer(credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey,
                                                sessionToken: sessionToken),
                    region: region, service: service)
    }
}

@Suite struct S3SigV4SignerTests {
    static let vectors = (try? S3SigV4Vector.all()) ?? []

    @Test func s3FixturesArePresent() {
        #expect(Self.vectors.count >= 11)
    }

    @Test(arguments: vectors)
    func s3CanonicalRequestMatchesBotocore(_ vector: S3SigV4Vector) {
        let signature = vector.signer.signature(for: vector.request, date: vector.date,
                                                signContentSHA256: vector.signContentSHA256)
        #expect(signature.canonicalRequest == vector.canonicalRequest)
        #expect(signature.stringToSign == vector.stringToSign)
    }

    @Test(arguments: vectors)
    func s3AuthorizationMatchesBotocore(_ vector: S3SigV4Vector) {
        let signed = vector.signer.sign(vector.request, date: vector.date, signContentSHA256: vector.signContentSHA256)
        #expect(signed.headers["authorization"] == vector.authorization)
        #expect(signed.headers["x-amz-content-sha256"] == vector.contentSHA256)
    }
}

/// The client end to end: with the vector's clock and credentials, the requests `S3Client`
/// builds carry botocore's URL (same encoding) and botocore's `Authorization` header.
@Suite struct S3ClientSigningTests {
    static let vectors = S3SigV4SignerTests.vectors

    func vector(_ name: String) throws -> S3SigV4Vector {
        try #require(Self.vectors.first { $0.name == name })
    }

    func client(for vector: S3SigV4Vector, endpoint: URL?, transport: S3ScriptedTransport) -> S3Client {
        let credentials = AWSCredentials(accessKeyId: vector.accessKeyId, secretAccessKey: vector.secretAccessKey,
                                         sessionToken: vector.sessionToken)
        return S3Client(region: vector.region, endpoint: endpoint, credentialsProvider: StaticCredentialsProvider(credentials),
                        transport: transport, clock: EC2TestClock(start: vector.date).clock, retryPolicy: .none)
    }

    func expectSame(_ transport: S3ScriptedTransport, _ vector: S3SigV4Vector) throws {
        let request = try #require(transport.requests.first)
        #expect(request.url.absoluteString == vector.url)
        #expect(request.headers["authorization"] == vector.authorization)
    }

    @Test func putObjectIsSignedAsBotocoreSignsIt() async throws {
        let vector = try vector("put-object-path-style")
        let body = try #require(Data(base64Encoded: vector.bodyBase64))
        let transport = S3ScriptedTransport { _ in HTTPResponse(status: 200, headers: ["etag": ReferenceMD5.hex(body)]) }
        _ = try await client(for: vector, endpoint: URL(string: "http://127.0.0.1:5000"), transport: transport)
            .putObject(body, bucket: "spottrain-ckpt", key: "run/ckpt-000100.spt")
        try expectSame(transport, vector)
    }

    @Test func listObjectsWithASlashInThePrefixIsSignedAsBotocoreSignsIt() async throws {
        let vector = try vector("list-objects-v2-prefix-with-slash")
        let transport = S3ScriptedTransport { _ in S3Test.xml(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>") }
        _ = try await client(for: vector, endpoint: URL(string: "http://127.0.0.1:5000"), transport: transport)
            .listObjectsPage(bucket: "spottrain-ckpt", prefix: "run/",
                             continuationToken: "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        try expectSame(transport, vector)
    }

    @Test func rangedGetOnAWSIsSignedAsBotocoreSignsIt() async throws {
        let vector = try vector("get-object-range")
        let transport = S3ScriptedTransport { _ in
            HTTPResponse(status: 206, headers: ["content-range": "bytes 0-1023/5000"], body: Data(count: 1024))
        }
        _ = try await client(for: vector, endpoint: nil, transport: transport)
            .getObject(bucket: "spottrain-ckpt", key: "run/ckpt-000100.spt", range: 0...1023)
        try expectSame(transport, vector)
    }

    @Test func uploadPartAndAbortAreSignedAsBotocoreSignsThem() async throws {
        let part = try vector("upload-part")
        let body = try #require(Data(base64Encoded: part.bodyBase64))
        let partTransport = S3ScriptedTransport { _ in HTTPResponse(status: 200, headers: ["etag": ReferenceMD5.hex(body)]) }
        _ = try await client(for: part, endpoint: URL(string: "http://localhost:4566"), transport: partTransport)
            .uploadPart(body, bucket: "spottrain-ckpt", key: "run/ckpt-000200.spt", uploadId: "VXBsb2FkIElE+/=", partNumber: 2)
        try expectSame(partTransport, part)

        let abort = try vector("abort-multipart-upload")
        let abortTransport = S3ScriptedTransport { _ in HTTPResponse(status: 204) }
        try await client(for: abort, endpoint: URL(string: "http://127.0.0.1:5000"), transport: abortTransport)
            .abortMultipartUpload(bucket: "spottrain-ckpt", key: "run/ckpt-000200.spt", uploadId: "abc~def")
        try expectSame(abortTransport, abort)
    }
}
