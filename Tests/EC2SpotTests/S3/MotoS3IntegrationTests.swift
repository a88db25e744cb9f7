import EC2Spot
import Foundation
import Testing

/// The S3 client against moto's S3 with signature checking on.
///
/// Creates an IAM user with an access key and an allow-all policy (IAM calls signed with our
/// signer while checking is still off), switches checking on (`POST /moto-api/reset-auth`
/// with body `0`), then uploads (single and multipart), lists (with continuation), reads
/// (whole and ranged), cleans up left-open multipart uploads and deletes with those keys,
/// and checks that a wrong secret and an unknown key are refused with S3's error codes.
///
/// It uses its own server, `SPOTTRAIN_MOTO_S3_AUTH_ENDPOINT`, because switching auth on is
/// global to a server. moto.sh starts that server through `Scripts/ci/moto_raw_uri_server.py`:
/// moto 5.2.1 verifies signatures against a percent-decoded URL, so it refuses a correctly
/// signed request whose query contains `%2F` (ListObjectsV2 with `prefix=run/`) or whose
/// key has escaped characters; boto3 is refused the same way. The launcher hands moto the
/// raw request target for its signature check. The signer is not bent to moto: real S3
/// verifies the canonical encoding, which botocore's vectors pin (`S3SigV4SignerTests`).
@Suite(.serialized,
       .enabled(if: MotoS3.endpoint != nil,
                "SPOTTRAIN_MOTO_S3_AUTH_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct MotoS3IntegrationTests {
    var endpoint: URL { MotoS3.endpoint! }

    func client(_ credentials: AWSCredentials, retry: RetryPolicy = .none) -> S3Client {
        S3Client(region: "us-east-1", endpoint: endpoint, credentialsProvider: StaticCredentialsProvider(credentials),
                 transport: AsyncHTTPClientTransport.aws(), retryPolicy: retry, requestTimeout: .seconds(60),
                 multipart: S3MultipartConfiguration(threshold: S3MultipartConfiguration.minimumPartSize,
                                                     partSize: S3MultipartConfiguration.minimumPartSize,
                                                     concurrency: 2))
    }

    @Test func motoAcceptsSignedS3CallsAndRefusesAWrongSecret() async throws {
        let keys = try await MotoS3.createUserKeys(endpoint)
        let bucket = "spottrain-\(UUID().uuidString.prefix(8).lowercased())"
        try await MotoS3.setAuth("0", endpoint)
        do {
            let s3 = client(keys)
            try await s3.createBucket(bucket)

            // Single-part upload: Content-MD5 sent, ETag = MD5 hex of the body.
            let small = S3Test.bytes(70_000, seed: 3)
            let oddKey = "run/ckpt 000100+ü=(1)~.spt"
            let put = try await s3.upload(small, bucket: bucket, key: oddKey)
            #expect(put.partCount == 1)
            #expect(put.etag == ReferenceMD5.hex(small))

            // Multipart upload: three parts in parallel, final ETag verified.
            let big = S3Test.bytes(2 * S3MultipartConfiguration.minimumPartSize + 4_321, seed: 9)
            let multi = try await s3.upload(big, bucket: bucket, key: "run/ckpt-000200.spt")
            #expect(multi.partCount == 3)
            #expect(multi.etag.hasSuffix("-3"))
            _ = try await s3.putObject(Data("other".utf8), bucket: bucket, key: "elsewhere/x")

            // Listing with prefix "run/" (prefix=run%2F) and continuation, one key per page.
            let first = try await s3.listObjectsPage(bucket: bucket, prefix: "run/", maxKeys: 1)
            #expect(first.objects.count == 1)
            let token = try #require(first.nextContinuationToken)
            let second = try await s3.listObjectsPage(bucket: bucket, prefix: "run/", continuationToken: token, maxKeys: 1)
            #expect(second.objects.count == 1)
            let listed = try await s3.listObjects(bucket: bucket, prefix: "run/")
            #expect(Set(listed.map(\.key)) == [oddKey, "run/ckpt-000200.spt"])
            #expect(listed.first { $0.key == oddKey }?.size == small.count)

            // Reads: whole (MD5 checked against the ETag) and ranged.
            #expect(try await s3.getObject(bucket: bucket, key: oddKey).body == small)
            let whole = try await s3.getObject(bucket: bucket, key: "run/ckpt-000200.spt")
            #expect(whole.body == big)
            let range = try await s3.getObject(bucket: bucket, key: "run/ckpt-000200.spt", range: 5_000_000...5_300_000)
            #expect(range.body == big.subdata(in: 5_000_000..<5_300_001))
            #expect(range.objectSize == big.count)

            // A multipart upload a killed run left open is found under the prefix and aborted.
            let leftOpen = try await s3.createMultipartUpload(bucket: bucket, key: "run/ckpt-000300.spt")
            _ = try await s3.uploadPart(S3Test.bytes(1000), bucket: bucket, key: "run/ckpt-000300.spt",
                                        uploadId: leftOpen, partNumber: 1)
            #expect(try await s3.listMultipartUploads(bucket: bucket, prefix: "run/").map(\.uploadId) == [leftOpen])
            #expect(try await s3.listMultipartUploads(bucket: bucket, prefix: "elsewhere/").isEmpty)
            let aborted = try await s3.abortMultipartUploads(bucket: bucket, prefix: "run/")
            #expect(aborted.map(\.uploadId) == [leftOpen])
            #expect(try await s3.listMultipartUploads(bucket: bucket, prefix: "run/").isEmpty)

            // Deletes: batch and single; then nothing is left under run/.
            let failures = try await s3.deleteObjects([oddKey, "run/ckpt-000200.spt", "run/never-existed"], bucket: bucket)
            #expect(failures.isEmpty)
            try await s3.deleteObject(bucket: bucket, key: "elsewhere/x")
            #expect(try await s3.listObjects(bucket: bucket, prefix: "").isEmpty)

            let missing = await #expect(throws: S3Error.self) { _ = try await s3.getObject(bucket: bucket, key: oddKey) }
            #expect(missing?.code == "NoSuchKey")

            // A wrong secret is refused with S3's code, and no secret is in the error.
            let forged = AWSCredentials(accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey + "x")
            let refused = await #expect(throws: S3Error.self) {
                _ = try await client(forged).listObjects(bucket: bucket, prefix: "run/")
            }
            #expect(refused?.code == "SignatureDoesNotMatch")
            #expect(refused?.status == 403)
            let unknown = await #expect(throws: S3Error.self) {
                _ = try await client(AWSCredentials(accessKeyId: "AKIDUNKNOWN0000", secretAccessKey: "nope-nope"))
                    .putObject(small, bucket: bucket, key: "run/x")
            }
            #expect(unknown?.code == "InvalidAccessKeyId")
            for error in [refused, unknown, missing] {
                // Computed first, so that a failure does not print the secret itself.
                let text = String(describing: error as Any)
                let leaks = text.contains(keys.secretAccessKey) || text.contains(SigV4Signer.percentEncode(keys.secretAccessKey))
                #expect(!leaks, "an S3Error description contains the secret key")
            }
        } catch {
            try? await MotoS3.setAuth("inf", endpoint)
            throw error
        }
        try await MotoS3.setAuth("inf", endpoint)
    }
}

/// Helpers for the S3 auth server (`SPOTTRAIN_MOTO_S3_AUTH_ENDPOINT`).
enum MotoS3 {
    static var endpoint: URL? { Moto.url("SPOTTRAIN_MOTO_S3_AUTH_ENDPOINT") }

    /// Sends a signed IAM Query request and returns the body.
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
        let text = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else { throw MotoTestError("IAM \(parameters.first?.1 ?? "?") failed: HTTP \(response.status)") }
        return text
    }

    static func element(_ name: String, in xml: String) throws -> String {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else {
            throw MotoTestError("no <\(name)> in IAM response")
        }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    /// A new IAM user with an allow-all inline policy, and its access key.
    static func createUserKeys(_ endpoint: URL) async throws -> AWSCredentials {
        let user = "spottrain-s3-\(UUID().uuidString.prefix(8))"
        _ = try await iam([("Action", "CreateUser"), ("UserName", user)], endpoint)
        _ = try await iam([("Action", "PutUserPolicy"), ("UserName", user), ("PolicyName", "allow-all"),
                           ("PolicyDocument", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)],
                          endpoint)
        let keyXML = try await iam([("Action", "CreateAccessKey"), ("UserName", user)], endpoint)
        return AWSCredentials(accessKeyId: try element("AccessKeyId", in: keyXML),
                              secretAccessKey: try element("SecretAccessKey", in: keyXML))
    }

    /// Switches signature checking on (`"0"`: after zero unchecked requests) or off (`"inf"`).
    static func setAuth(_ count: String, _ endpoint: URL) async throws {
        var request = HTTPRequest(method: "POST", url: endpoint.appendingPathComponent("moto-api/reset-auth"),
                                  body: Data(count.utf8))
        request.headers["content-type"] = "text/plain"
        let response = try await AsyncHTTPClientTransport.aws().send(request)
        guard response.status == 200 else { throw MotoTestError("reset-auth \(count) failed: \(response.status)") }
    }
}
