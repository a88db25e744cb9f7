import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1

/// The ``HTTPTransport`` of EC2Spot: swift-server/async-http-client (AHC) for the AWS
/// endpoints and for instance metadata alike.
///
/// Every exchange is bounded as a whole:
/// - **Deadline.** `request.timeout` covers connecting, sending, the response head *and the
///   whole body*; a server that trickles bytes forever fails with
///   ``TransportError/Kind/timedOut`` when the deadline passes, not when it goes quiet.
/// - **Size.** The body is read as a stream and counted as bytes arrive; one byte more than
///   ``maximumResponseBytes`` (or the request's own ``HTTPRequest/maximumResponseBytes``,
///   when it sets one), or a `Content-Length` that promises more, aborts the request at
///   once and throws ``TransportError/Kind/responseTooLarge``, so a huge body never sits
///   in memory.
///
/// Redirects are never followed (a signed AWS request must not be replayed elsewhere) and
/// bodies are never decompressed.
///
/// **Clients and shutdown.** Requests run on process-wide `HTTPClient`s, one per distinct
/// setting (proxy, connect timeout), created on first use and kept for the life of the
/// process, like AHC's own `HTTPClient.shared`: they are never deinitialised, so they never
/// need `shutdown()`, and connections are pooled across all transports that share a
/// setting. A caller that brings its own client with ``init(client:maximumResponseBytes:)``
/// owns it and must shut it down.
///
/// **Proxies.** ``aws(environment:maximumResponseBytes:)`` honours `HTTPS_PROXY`,
/// `HTTP_PROXY` and `NO_PROXY` (see ``ProxyEnvironment``); ``instanceMetadata(maximumResponseBytes:connectTimeout:)``
/// never uses a proxy, whatever the environment says.
public struct AsyncHTTPClientTransport: HTTPTransport {
    /// Where requests go: straight to the URL's host, or via the proxy the environment names.
    enum Route: Sendable {
        /// Always direct, with this connect timeout; plain `http://` to an address literal
        /// or `localhost` only (no DNS), as instance metadata requires.
        case metadata(connectTimeout: Duration)
        /// The proxy from `ProxyEnvironment.proxy(for:)`, else direct (or the error that
        /// reading the proxy variables gave).
        case aws(Result<ProxyEnvironment, TransportError>)
        /// One client chosen by the caller.
        case client(HTTPClient)
    }

    /// The largest response body accepted, in bytes.
    public var maximumResponseBytes: Int
    let route: Route

    private init(route: Route, maximumResponseBytes: Int) {
        precondition(maximumResponseBytes > 0,
                     "AsyncHTTPClientTransport: maximumResponseBytes \(maximumResponseBytes) <= 0")
        self.route = route
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// A transport for AWS endpoints (EC2, S3, STS…) that honours the standard proxy variables.
    ///
    /// A proxy variable that is not an `http://host[:port]` URL does not stop construction;
    /// instead every ``send(_:)`` throws ``TransportError/Kind/unsupportedRequest`` naming the
    /// variable, before anything is sent (and ``RetryPolicy`` does not retry it).
    /// - Parameters:
    ///   - environment: Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (or their lowercase
    ///     spellings) are read (default: the process environment).
    ///   - maximumResponseBytes: The largest accepted body (default 64 MiB).
    /// - Returns: The transport.
    public static func aws(environment: [String: String] = ProcessInfo.processInfo.environment,
                           maximumResponseBytes: Int = 64 << 20) -> AsyncHTTPClientTransport {
        let proxies = Result { try ProxyEnvironment(environment: environment) }
            .mapError { $0 as? TransportError ?? TransportError(.unsupportedRequest, "proxy variables: \($0)") }
        return AsyncHTTPClientTransport(route: .aws(proxies), maximumResponseBytes: maximumResponseBytes)
    }

    /// A transport for AWS endpoints with an explicit proxy setting (no environment lookup).
    /// - Parameters:
    ///   - proxies: Which proxy serves which URL (``ProxyEnvironment/direct`` for none).
    ///   - maximumResponseBytes: The largest accepted body (default 64 MiB).
    /// - Returns: The transport.
    public static func aws(proxies: ProxyEnvironment, maximumResponseBytes: Int = 64 << 20) -> AsyncHTTPClientTransport {
        AsyncHTTPClientTransport(route: .aws(.success(proxies)), maximumResponseBytes: maximumResponseBytes)
    }

    /// A transport for the instance-metadata service: never through a proxy (no proxy
    /// variable is read), plain `http://` to an IPv4/IPv6 literal or `localhost` only (no
    /// DNS lookup), one connection per request (`Connection: close`), and a short connect
    /// timeout so that code off EC2 learns quickly that there is no IMDS.
    /// - Parameters:
    ///   - maximumResponseBytes: The largest accepted body (default 1 MiB).
    ///   - connectTimeout: The bound on establishing the TCP connection (default two
    ///     seconds); the request's own timeout (one second for ``InstanceMetadataClient``)
    ///     bounds the whole exchange as well.
    /// - Returns: The transport.
    public static func instanceMetadata(maximumResponseBytes: Int = 1 << 20,
                                        connectTimeout: Duration = .seconds(2)) -> AsyncHTTPClientTransport {
        precondition(connectTimeout > .zero, "AsyncHTTPClientTransport: connectTimeout \(connectTimeout) <= 0")
        return AsyncHTTPClientTransport(route: .metadata(connectTimeout: connectTimeout),
                                        maximumResponseBytes: maximumResponseBytes)
    }

    /// A transport on a client the caller created, configured and will shut down.
    /// - Parameters:
    ///   - client: The client (its proxy, TLS and timeout settings apply as configured).
    ///   - maximumResponseBytes: The largest accepted body (default 64 MiB).
    public init(client: HTTPClient, maximumResponseBytes: Int = 64 << 20) {
        self.init(route: .client(client), maximumResponseBytes: maximumResponseBytes)
    }

    /// Sends `request` and returns the response, whatever its status.
    /// - Parameter request: The request; `request.timeout` bounds the whole exchange,
    ///   body included.
    /// - Returns: The response with lowercase header names (repeated fields joined with
    ///   `", "`) and the whole body.
    /// - Throws: ``TransportError``: `.unsupportedRequest` (nothing sent) for a URL that is
    ///   not `http(s)://host…`, an invalid method or header, or, for instance metadata, an
    ///   `https` URL or a host name; `.timedOut` when the deadline passes at any point;
    ///   `.connectionFailed` when the host cannot be reached or the connection drops before a
    ///   response; `.invalidResponse` for bytes that are not acceptable HTTP or a body cut
    ///   short; `.responseTooLarge` for a body over ``maximumResponseBytes`` (or over
    ///   `request.maximumResponseBytes` when set).
    ///   `CancellationError` when the calling task is cancelled.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try validate(request)
        let client = try SharedHTTPClients.client(for: route, url: request.url)
        let closesConnection: Bool
        if case .metadata = route { closesConnection = true } else { closesConnection = false }
        let prepared = try Self.makeClientRequest(request, closesConnection: closesConnection)
        // A request that states its own limit (the largest object its caller will read)
        // replaces the transport's default one, in either direction.
        let limit = request.maximumResponseBytes ?? maximumResponseBytes
        let timeout = request.timeout
        // Named with its port in messages, so a user sees which endpoint failed.
        let host = request.url.host.map { name in request.url.port.map { "\(name):\($0)" } ?? name } ?? "?"
        let isHead = request.method.uppercased() == "HEAD"
        do {
            return try await withThrowingTaskGroup(of: HTTPResponse?.self) { group in
                group.addTask {
                    try await Self.exchange(prepared, on: client, timeout: timeout, limit: limit,
                                            host: host, isHead: isHead)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw TransportError(.timedOut,
                                         "request to \(host) did not complete within \(Self.describe(timeout)) (the deadline covers the whole body)")
                }
                return response
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Self.transportError(error, host: host, timeout: timeout)
        }
    }

    /// One exchange: execute, check the head, then stream the body under the cap.
    private static func exchange(_ request: HTTPClientRequest, on client: HTTPClient, timeout: Duration,
                                 limit: Int, host: String, isHead: Bool) async throws -> HTTPResponse {
        let response = try await client.execute(request, deadline: .now() + timeAmount(timeout))
        var headers: [String: String] = [:]
        for (name, value) in response.headers {
            let key = name.lowercased()
            headers[key] = headers[key].map { $0 + ", " + value } ?? value
        }
        if response.status.code == 101 {
            throw TransportError(.invalidResponse, "unexpected 101 Switching Protocols from \(host) (no upgrade was asked for)")
        }
        if let codings = headers["transfer-encoding"]?.lowercased(),
           codings.split(separator: ",").contains(where: { !["chunked", "identity"].contains($0.trimmingCharacters(in: .whitespaces)) }) {
            // The client decodes chunked framing only; any other coding would hand back bytes
            // that are not the body.
            throw TransportError(.invalidResponse, "unsupported transfer coding '\(codings.prefix(40))' from \(host)")
        }
        if !isHead, let declared = headers["content-length"].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }),
           declared > limit {
            throw TransportError(.responseTooLarge,
                                 "response body from \(host) declares \(declared) bytes, more than the limit of \(limit) bytes")
        }
        var body = Data()
        // Leaving this loop early (by throwing) ends the body stream, which makes AHC cancel
        // the request and close the connection: nothing more is read.
        for try await buffer in response.body {
            guard buffer.readableBytes <= limit - body.count else {
                throw TransportError(.responseTooLarge,
                                     "response body from \(host) is larger than the limit of \(limit) bytes")
            }
            buffer.withUnsafeReadableBytes { body.append(contentsOf: $0) }
        }
        return HTTPResponse(status: Int(response.status.code), headers: headers, body: body)
    }

    /// Rejects, before anything is sent, what cannot be sent faithfully.
    private func validate(_ request: HTTPRequest) throws {
        let scheme = request.url.scheme?.lowercased() ?? ""
        guard let host = request.url.host, !host.isEmpty else {
            throw TransportError(.unsupportedRequest, "URL '\(request.url.absoluteString)' has no host")
        }
        if case .metadata = route {
            guard scheme == "http" else {
                throw TransportError(.unsupportedRequest,
                                     "instance metadata is plain HTTP only; cannot send to a '\(scheme)://' URL (\(host))")
            }
            guard Self.isAddressLiteralOrLocalhost(host) else {
                throw TransportError(.unsupportedRequest,
                                     "instance-metadata host '\(host)' must be an IP address literal or localhost (no DNS lookup)")
            }
        } else {
            guard scheme == "http" || scheme == "https" else {
                throw TransportError(.unsupportedRequest,
                                     "only http:// and https:// URLs can be sent, not '\(request.url.absoluteString)'")
            }
        }
        if let port = request.url.port, !(1...65535).contains(port) {
            throw TransportError(.unsupportedRequest, "URL '\(request.url.absoluteString)' has an invalid port \(port)")
        }
        try request.validateMethodAndHeaders()
    }

    /// The AHC request for `request`; with `closesConnection` (instance metadata) it asks for
    /// one connection per request, as IMDS clients do, so that nothing stays pooled that the
    /// service (or a restarted test server) may have closed meanwhile.
    private static func makeClientRequest(_ request: HTTPRequest, closesConnection: Bool) throws -> HTTPClientRequest {
        var prepared = HTTPClientRequest(url: request.url.absoluteString)
        prepared.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
            prepared.headers.add(name: name, value: value)
        }
        if closesConnection, !prepared.headers.contains(name: "connection") {
            prepared.headers.add(name: "connection", value: "close")
        }
        if !request.body.isEmpty {
            prepared.body = .bytes(ByteBuffer(bytes: request.body))
        }
        return prepared
    }

    /// Whether `host` (as `URL.host` gives it) is an IPv4 or IPv6 literal or `localhost`.
    static func isAddressLiteralOrLocalhost(_ host: String) -> Bool {
        var bare = host.lowercased()
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        if bare == "localhost" { return true }
        var v4 = in_addr()
        var v6 = in6_addr()
        let address = bare.prefix(while: { $0 != "%" })  // an IPv6 zone does not change the kind
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, String(address), &v6) == 1
    }

    /// A duration as NIO's `TimeAmount`, clamped to what fits.
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 { return .zero }
        if seconds >= Int64.max / 1_000_000_000 - 1 { return .nanoseconds(Int64.max / 2) }
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// `"1.5 s"`-style text for messages.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        return milliseconds == 0 ? "\(seconds) s" : "\(seconds).\(String(format: "%03lld", milliseconds)) s"
    }
}
