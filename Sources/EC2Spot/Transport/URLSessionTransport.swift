import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An ``HTTPTransport`` on Foundation's `URLSession`, for the EC2 endpoints.
///
/// Notes for Linux (swift-corelibs-foundation, libcurl underneath):
/// - timeouts are whole seconds: a request's timeout is rounded *up* to at least one second
///   here (libcurl would otherwise round it down, possibly to "no timeout");
/// - the `http_proxy` / `https_proxy` / `no_proxy` environment variables are honoured, which
///   suits EC2's public endpoints. Do not use this transport for instance metadata, which
///   must never go through a proxy.
/// Response bodies are limited to ``maximumResponseSize`` bytes.
public struct URLSessionTransport: HTTPTransport {
    /// The session requests run on.
    public let session: URLSession
    /// Larger response bodies fail with ``TransportError/Kind/invalidResponse``.
    public var maximumResponseSize: Int

    /// Creates a transport.
    /// - Parameters:
    ///   - session: The session (default: a fresh ephemeral session without caching or cookies).
    ///   - maximumResponseSize: The largest accepted body, in bytes (default 64 MiB).
    public init(session: URLSession? = nil, maximumResponseSize: Int = 64 << 20) {
        precondition(maximumResponseSize > 0, "URLSessionTransport: maximumResponseSize \(maximumResponseSize) <= 0")
        if let session {
            self.session = session
        } else {
            let configuration = URLSessionConfiguration.ephemeral
            configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
            configuration.urlCache = nil
            configuration.httpCookieStorage = nil
            configuration.httpShouldSetCookies = false
            self.session = URLSession(configuration: configuration)
        }
        self.maximumResponseSize = maximumResponseSize
    }

    /// Sends `request` and returns the response, whatever its status.
    /// - Parameter request: The request.
    /// - Returns: The response with lowercased header names.
    /// - Throws: ``TransportError`` when no response arrives (kind
    ///   ``TransportError/Kind/unsupportedRequest``, with nothing sent, for a URL that is not
    ///   `http(s)://host…` or a method or header that would break the message framing);
    ///   `CancellationError` when cancelled.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try Self.validate(request)
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        let components = request.timeout.components
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        urlRequest.timeoutInterval = max(1, seconds.rounded(.up))
        for (name, value) in request.headers {
            urlRequest.setValue(value, forHTTPHeaderField: name)
        }
        if !request.body.isEmpty { urlRequest.httpBody = request.body }

        let box = TaskBox()
        let limit = maximumResponseSize
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    if let error {
                        continuation.resume(throwing: Self.transportError(error, url: request.url))
                        return
                    }
                    guard let http = response as? HTTPURLResponse else {
                        continuation.resume(throwing: TransportError(.invalidResponse, "not an HTTP response from \(request.url.host ?? "?")"))
                        return
                    }
                    let body = data ?? Data()
                    if body.count > limit {
                        continuation.resume(throwing: TransportError(.invalidResponse, "response body larger than \(limit) bytes"))
                        return
                    }
                    var headers: [String: String] = [:]
                    for (key, value) in http.allHeaderFields {
                        headers[String(describing: key)] = String(describing: value)
                    }
                    continuation.resume(returning: HTTPResponse(status: http.statusCode, headers: headers, body: body))
                }
                box.set(task)
                task.resume()
            }
        } onCancel: {
            box.cancel()
        }
    }

    /// Rejects, before anything is sent, what this transport cannot send faithfully: a URL
    /// without an `http`/`https` scheme or a host, a method that is not an HTTP token, a
    /// header name that is not a token, or a header value with control characters (CR or LF
    /// would split the request).
    static func validate(_ request: HTTPRequest) throws {
        let scheme = request.url.scheme?.lowercased() ?? ""
        guard scheme == "http" || scheme == "https" else {
            throw TransportError(.unsupportedRequest,
                                 "URLSessionTransport sends http:// and https:// URLs only, not '\(request.url.absoluteString)'")
        }
        guard let host = request.url.host, !host.isEmpty else {
            throw TransportError(.unsupportedRequest, "URL '\(request.url.absoluteString)' has no host")
        }
        try request.validateMethodAndHeaders()
    }

    static func transportError(_ error: any Error, url: URL) -> any Error {
        let host = url.host ?? "?"
        guard let urlError = error as? URLError else {
            return TransportError(.connectionFailed, "request to \(host) failed: \(error.localizedDescription)")
        }
        switch urlError.code {
        case .cancelled:
            return CancellationError()
        case .timedOut:
            return TransportError(.timedOut, "request to \(host) timed out")
        case .unsupportedURL, .badURL:
            return TransportError(.unsupportedRequest, "cannot send to \(url.absoluteString): \(urlError.localizedDescription)")
        case .badServerResponse, .cannotParseResponse, .cannotDecodeRawData, .cannotDecodeContentData:
            return TransportError(.invalidResponse, "invalid response from \(host): \(urlError.localizedDescription)")
        default:
            return TransportError(.connectionFailed, "request to \(host) failed: \(urlError.localizedDescription)")
        }
    }
}

/// Holds the running task so that cancellation (on another thread) can reach it.
private final class TaskBox: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var cancelled = false

    func set(_ task: URLSessionDataTask) {
        lock.lock()
        self.task = task
        let cancelNow = cancelled
        lock.unlock()
        if cancelNow { task.cancel() }
    }

    func cancel() {
        lock.lock()
        cancelled = true
        let task = self.task
        lock.unlock()
        task?.cancel()
    }
}
