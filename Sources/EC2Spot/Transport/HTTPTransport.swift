import Foundation

/// One HTTP request, as EC2Spot's clients build it.
public struct HTTPRequest: Sendable, Equatable {
    /// The method, for example `"POST"`, `"GET"` or `"PUT"`.
    public var method: String
    /// The absolute URL, including any non-default port.
    public var url: URL
    /// Header fields. Names are compared case-insensitively by servers; EC2Spot writes them
    /// in lowercase.
    public var headers: [String: String]
    /// The body (empty for none).
    public var body: Data
    /// How long the whole exchange may take: connecting, sending, the response head and the
    /// whole response body (a deadline, not an idle timeout).
    public var timeout: Duration
    /// The largest response body this exchange accepts, in bytes, when the caller knows it
    /// (for example the largest object it will read); nil for the transport's own limit.
    /// A transport that enforces a limit while streaming uses this one instead of its own.
    public var maximumResponseBytes: Int?

    /// Creates a request.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - url: The absolute URL.
    ///   - headers: Header fields (lowercase names).
    ///   - body: The body (empty for none).
    ///   - timeout: The deadline of the whole exchange.
    ///   - maximumResponseBytes: The largest response body accepted (≥ 0); nil for the
    ///     transport's own limit.
    public init(method: String, url: URL, headers: [String: String] = [:], body: Data = Data(),
                timeout: Duration = .seconds(30), maximumResponseBytes: Int? = nil) {
        precondition((maximumResponseBytes ?? 0) >= 0, "HTTPRequest: maximumResponseBytes \(maximumResponseBytes ?? 0) < 0")
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maximumResponseBytes = maximumResponseBytes
    }
}

extension HTTPRequest {
    /// Checks what every transport must refuse before sending: a method that is not an HTTP
    /// token, a header name that is not a token, or a header value with control characters
    /// (a CR or LF would split the request).
    /// - Throws: ``TransportError`` with kind ``TransportError/Kind/unsupportedRequest``.
    public func validateMethodAndHeaders() throws {
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPRequest.isTokenByte) else {
            throw TransportError(.unsupportedRequest, "invalid HTTP method '\(method)'")
        }
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(HTTPRequest.isTokenByte) else {
                throw TransportError(.unsupportedRequest, "invalid header name '\(name)'")
            }
            guard value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw TransportError(.unsupportedRequest, "header '\(name)' contains control characters")
            }
        }
    }

    /// Whether `byte` may appear in an HTTP token (RFC 9110 `tchar`).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// One HTTP response.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code.
    public var status: Int
    /// Header fields with lowercase names.
    public var headers: [String: String]
    /// The body.
    public var body: Data

    /// Creates a response; header names are lowercased.
    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
        self.body = body
    }
}

/// A failure to get any HTTP response at all (as opposed to an error status).
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        /// No complete response within the request's timeout.
        case timedOut
        /// The connection could not be made or was dropped.
        case connectionFailed
        /// The peer sent something that is not valid HTTP, or a body cut short.
        case invalidResponse
        /// The response body is larger than the transport accepts (declared by
        /// `Content-Length` or counted while streaming); the exchange was aborted without
        /// reading the rest. Asking again would get the same answer: ``RetryPolicy`` never
        /// retries it.
        case responseTooLarge
        /// The request cannot be sent by this transport at all (an unsupported scheme, a host
        /// name where only address literals are allowed, an invalid method or header), so
        /// nothing was sent. Sending it again cannot help: ``RetryPolicy`` never retries it.
        case unsupportedRequest
    }

    /// The kind of failure.
    public var kind: Kind
    /// A human-readable explanation (never contains credentials).
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `"<kind>: <message>"`.
    public var description: String { "\(kind): \(message)" }
}

/// Sends HTTP requests. EC2Spot's clients take a transport as a parameter, so tests can
/// substitute a scripted fake and production code can choose how requests travel.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and returns the response, whatever its status.
    /// - Throws: ``TransportError`` when no response arrives.
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}
