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

    var date: Date {
        let digits = Array(amzDate.utf8)
        func number(_ range: Range<Int>) -> Int { Int(String(decoding: digits[range], as: UTF8.self))! }
        var components = DateComponents()
        components.year = number(0..<4); components.month = number(4..<6); components.day = number(6..<8)
        components.hour = number(9..<11); components.minute = number(11..<13); components.second = number(13..<15)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)!
    }

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
