import EC2Spot
import Foundation
import Testing

/// A fake ``HTTPTransport`` for S3: a handler answers each request (so parallel parts can
/// be answered by what they are, not by arrival order) and every request is recorded.
final class S3ScriptedTransport: HTTPTransport, @unchecked Sendable {
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

enum S3Test {
    static let credentials = AWSCredentials(accessKeyId: "AKIDS3TEST", secretAccessKey: "s3/secret+Key0123456789",
                                            sessionToken: "session-token/with+chars==")

    static func client(_ transport: S3ScriptedTransport, endpoint: URL? = URL(string: "http://127.0.0.1:9000"),
                       addressing: S3AddressingStyle? = nil, region: String = "us-east-1",
                       clock: EC2TestClock = EC2TestClock(),
                       retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .seconds(1), maxDelay: .seconds(4),
                                                        random: { 0.5 }),
                       multipart: S3MultipartConfiguration = .standard) -> S3Client {
        S3Client(region: region, endpoint: endpoint, addressing: addressing,
                 credentialsProvider: StaticCredentialsProvider(credentials), transport: transport,
                 clock: clock.clock, retryPolicy: retry, multipart: multipart)
    }

    static func md5Hex(_ data: Data) -> String { ReferenceMD5.hex(data) }

    static func md5Base64(_ data: Data) -> String { ReferenceMD5.base64(data) }

    static func xml(_ status: Int = 200, _ text: String, headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers.merging(["content-type": "application/xml"]) { a, _ in a },
                     body: Data(text.utf8))
    }

    static func error(_ status: Int, code: String, message: String = "it failed") -> HTTPResponse {
        xml(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(message)</Message>"
            + "<RequestId>REQ123</RequestId></Error>")
    }

    /// `size` deterministic bytes.
    static func bytes(_ size: Int, seed: UInt8 = 7) -> Data {
        var bytes = [UInt8](repeating: 0, count: size)
        var state = UInt32(seed) &* 2_654_435_761 | 1
        for index in 0..<size {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        return Data(bytes)
    }
}
