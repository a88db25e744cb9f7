import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3
import Testing

/// A fake ``HTTPTransport``: a handler answers each request, and every request is recorded.
final class StoreScriptedTransport: HTTPTransport, @unchecked Sendable {
    typealias Handler = @Sendable (HTTPRequest) throws -> HTTPResponse

    private let lock = NSLock()
    private var recorded: [HTTPRequest] = []
    private let handler: Handler

    init(_ handler: @escaping Handler) { self.handler = handler }

    var requests: [HTTPRequest] { lock.withLock { recorded } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        lock.withLock { recorded.append(request) }
        return try handler(request)
    }

    /// `"METHOD path?query"` of every request, in order.
    var lines: [String] { requests.map(Self.line) }

    static func line(_ request: HTTPRequest) -> String {
        let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false)
        let query = components?.percentEncodedQuery.map { "?" + $0 } ?? ""
        return "\(request.method) \(components?.percentEncodedPath ?? "")\(query)"
    }
}

extension HTTPRequest {
    /// The decoded query parameters (a bare name maps to "").
    var queryItems: [String: String] {
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }
}

enum StoreTest {
    static let credentials = AWSCredentials(accessKeyId: "AKIDSTORETEST", secretAccessKey: "store/secret+Key0123456789")

    /// A client on `transport` (path-style on a loopback endpoint), three attempts with no
    /// real waiting.
    static func client(_ transport: some HTTPTransport) -> S3Client {
        let clock = EC2Clock(now: { Date(timeIntervalSince1970: 1_790_000_000) }, sleep: { _ in })
        return S3Client(region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:9000"),
                        credentialsProvider: StaticCredentialsProvider(credentials), transport: transport, clock: clock,
                        retryPolicy: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(1)))
    }

    static func store(_ transport: StoreScriptedTransport, bucket: String = "ckpt-bucket",
                      prefix: String = "run") -> S3CheckpointStore {
        S3CheckpointStore(client: client(transport), bucket: bucket, prefix: prefix)
    }

    static func xml(_ text: String, status: Int = 200, headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers.merging(["content-type": "application/xml"]) { a, _ in a },
                     body: Data(text.utf8))
    }

    static func error(_ status: Int, code: String, message: String = "it failed") -> HTTPResponse {
        xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(message)</Message>"
            + "<RequestId>REQ123</RequestId></Error>", status: status)
    }

    /// A `ListObjectsV2` page with these keys and sizes.
    static func listing(_ objects: [(String, Int)], next: String? = nil) -> HTTPResponse {
        var body = "<ListBucketResult><IsTruncated>\(next != nil)</IsTruncated>"
        if let next { body += "<NextContinuationToken>\(next)</NextContinuationToken>" }
        for (key, size) in objects {
            body += "<Contents><Key>\(key)</Key><Size>\(size)</Size><ETag>\"e\"</ETag></Contents>"
        }
        return xml(body + "</ListBucketResult>")
    }

    /// What S3 answers a good `PutObject`: the ETag is the MD5 the request's `Content-MD5`
    /// declares (S3 would have refused the upload if the bytes did not match it).
    static func putAnswer(_ request: HTTPRequest) -> HTTPResponse {
        let digest = request.headers["content-md5"].flatMap { Data(base64Encoded: $0) } ?? Data()
        return HTTPResponse(status: 200, headers: ["ETag": "\"" + digest.map { String(format: "%02x", $0) }.joined() + "\""])
    }

    /// `size` deterministic bytes.
    static func bytes(_ size: Int, seed: UInt32 = 7) -> [UInt8] {
        var state = seed &* 2_654_435_761 | 1
        return (0..<size).map { _ in
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// The checkpoint name of `step`.
    static func name(_ step: Int) -> String { CheckpointDirectory.fileName(forGlobalStep: step) }
}

/// Expects `operation` to throw a ``CheckpointStoreError`` and returns it.
@discardableResult
func expectStoreError(_ code: CheckpointStoreError.Code, serviceCode: String? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation,
                      _ operation: () async throws -> Void) async -> CheckpointStoreError? {
    do {
        try await operation()
        Issue.record("expected CheckpointStoreError.\(code), got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as CheckpointStoreError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let serviceCode {
            #expect(error.serviceCode == serviceCode, "\(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected CheckpointStoreError.\(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
