import EC2Spot
import Foundation
import Testing

/// Known answers produced by botocore's `SigV4Auth` (`Scripts/sigv4_vectors.py`).
struct SigV4Vector: Decodable, CustomTestStringConvertible, Sendable {
    var name: String
    var url: String
    var region: String
    var service: String
    var amzDate: String
    var accessKeyId: String
    var secretAccessKey: String
    var sessionToken: String?
    var signContentSHA256: Bool
    var parameters: [[String]]
    var body: String
    var canonicalRequest: String
    var stringToSign: String
    var authorization: String

    var testDescription: String { name }

    static func all() throws -> [SigV4Vector] {
        struct File: Decodable { var vectors: [SigV4Vector] }
        return try EC2Fixtures.load("sigv4_vectors.json", as: File.self).vectors
    }

    /// The vector's `amzDate` as a `Date`.
    var date: Date { EC2Fixtures.date(amzDate: amzDate) }

    var request: HTTPRequest {
        HTTPRequest(method: "POST", url: URL(string: url)!,
                    headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8"],
                    body: Data(body.utf8))
    }

    var signer: SigV4Signer {
        SigV4Signer(credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey,
                                                sessionToken: sessionToken),
                    region: region, service: service)
    }
}

@Suite struct SigV4SignerTests {
    static let vectors = (try? SigV4Vector.all()) ?? []

    @Test func fixturesArePresent() {
        #expect(Self.vectors.count >= 8)
    }

    @Test(arguments: vectors)
    func canonicalRequestMatchesBotocore(_ vector: SigV4Vector) {
        let signature = vector.signer.signature(for: vector.request, date: vector.date,
                                                signContentSHA256: vector.signContentSHA256)
        #expect(signature.canonicalRequest == vector.canonicalRequest)
    }

    @Test(arguments: vectors)
    func stringToSignMatchesBotocore(_ vector: SigV4Vector) {
        let signature = vector.signer.signature(for: vector.request, date: vector.date,
                                                signContentSHA256: vector.signContentSHA256)
        #expect(signature.stringToSign == vector.stringToSign)
    }

    @Test(arguments: vectors)
    func authorizationHeaderMatchesBotocore(_ vector: SigV4Vector) {
        let signed = vector.signer.sign(vector.request, date: vector.date, signContentSHA256: vector.signContentSHA256)
        #expect(signed.headers["authorization"] == vector.authorization)
        #expect(signed.headers["x-amz-date"] == vector.amzDate)
        #expect(signed.headers["x-amz-security-token"] == vector.sessionToken)
    }

    @Test(arguments: vectors)
    func formBodyEncodingMatchesBotocore(_ vector: SigV4Vector) {
        let body = vector.parameters
            .map { SigV4Signer.percentEncode($0[0]) + "=" + SigV4Signer.percentEncode($0[1]) }
            .joined(separator: "&")
        #expect(body == vector.body)
    }

    @Test func hostHeaderKeepsNonDefaultPortOnly() {
        let credentials = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "secret")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ec2")
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        func host(_ url: String) -> String? {
            signer.sign(HTTPRequest(method: "POST", url: URL(string: url)!), date: date).headers["host"]
        }
        #expect(host("https://ec2.us-east-1.amazonaws.com:443/") == "ec2.us-east-1.amazonaws.com")
        #expect(host("http://127.0.0.1:80/") == "127.0.0.1")
        #expect(host("http://127.0.0.1:5000/") == "127.0.0.1:5000")
        #expect(host("https://localhost:80/") == "localhost:80")
    }

    @Test func signingTimeIsFormattedInUTC() {
        let credentials = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "secret")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ec2")
        let request = HTTPRequest(method: "POST", url: URL(string: "https://ec2.us-east-1.amazonaws.com/")!)
        // 2000-02-29T23:59:59Z and a date before 1970.
        #expect(signer.sign(request, date: Date(timeIntervalSince1970: 951_868_799)).headers["x-amz-date"]
                == "20000229T235959Z")
        #expect(signer.sign(request, date: Date(timeIntervalSince1970: -1)).headers["x-amz-date"]
                == "19691231T235959Z")
    }

    @Test func resigningReplacesOldSignatureHeaders() {
        let vector = Self.vectors[0]
        var request = vector.request
        request.headers["authorization"] = "stale"
        request.headers["x-amz-date"] = "19990101T000000Z"
        let signed = vector.signer.sign(request, date: vector.date)
        #expect(signed.headers["authorization"] == vector.authorization)
    }
}
