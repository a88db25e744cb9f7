import AsyncHTTPClient
import Foundation
import NIOCore

/// The process-wide `HTTPClient`s behind ``AsyncHTTPClientTransport``: one per distinct
/// (proxy, connect timeout) setting, created on first use and never released.
///
/// Keeping them for the life of the process is what AHC's own `HTTPClient.shared` does: a
/// client that is never deinitialised never needs `shutdown()`, and all transports with the
/// same setting share one connection pool. The number of clients is bounded by the number of
/// distinct settings the process uses (in practice: direct, direct for IMDS, and one per
/// configured proxy).
enum SharedHTTPClients {
    /// What makes two clients different.
    struct Setting: Hashable {
        var proxy: HTTPProxyServer?
        var connectTimeoutNanoseconds: Int64
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var clients: [Setting: HTTPClient] = [:]

    /// The connect timeout of clients for AWS endpoints (the request deadline bounds it too).
    static let awsConnectTimeout: Duration = .seconds(10)

    /// The client that serves a request to `url` along `route`.
    static func client(for route: AsyncHTTPClientTransport.Route, url: URL) throws -> HTTPClient {
        switch route {
        case .client(let client):
            return client
        case .metadata(let connectTimeout):
            return client(for: Setting(proxy: nil, connectTimeoutNanoseconds: nanoseconds(connectTimeout)))
        case .aws(let proxies):
            return client(for: Setting(proxy: try proxies.get().proxy(for: url),
                                       connectTimeoutNanoseconds: nanoseconds(awsConnectTimeout)))
        }
    }

    private static func client(for setting: Setting) -> HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        if let existing = clients[setting] { return existing }
        let created = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                 configuration: configuration(for: setting))
        clients[setting] = created
        return created
    }

    /// The AHC configuration for `setting`: no redirects, no decompression, no connection
    /// retries inside AHC (``RetryPolicy`` decides about retries), the connect timeout, and
    /// the proxy if any.
    static func configuration(for setting: Setting) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(setting.connectTimeoutNanoseconds)),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        if let proxy = setting.proxy {
            let authorization: HTTPClient.Authorization? = proxy.username.map {
                .basic(username: $0, password: proxy.password ?? "")
            }
            configuration.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
        } else {
            configuration.proxy = nil
        }
        return configuration
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        AsyncHTTPClientTransport.timeAmount(duration).nanoseconds
    }
}
